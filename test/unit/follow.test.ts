import { describe, expect, it } from 'vitest';
import { objectsOfEvent, wanted } from '../../src/pipeline/follow.js';

// The shape MinIO publishes (AWS S3 event format), trimmed to what we read.
const event = (eventName: string, key: string) =>
  Buffer.from(JSON.stringify({ EventName: eventName, Key: `rap-inbox/${key}`, Records: [{ eventName, s3: { bucket: { name: 'rap-inbox' }, object: { key, eTag: 'abc' } } }] }));

describe('objectsOfEvent', () => {
  it('reads bucket, URL-decoded key and etag of created objects', () => {
    expect(objectsOfEvent(event('s3:ObjectCreated:Put', 'incoming/caf%C3%A9+songs%2Fv1.yaml'))).toEqual([{ bucket: 'rap-inbox', key: 'incoming/café songs/v1.yaml', etag: 'abc' }]);
  });

  it('ignores removals, garbage and empty values', () => {
    expect(objectsOfEvent(event('s3:ObjectRemoved:Delete', 'incoming/a.yaml'))).toEqual([]);
    expect(objectsOfEvent(Buffer.from('not json'))).toEqual([]);
    expect(objectsOfEvent(Buffer.from('{"Records": 3}'))).toEqual([]);
    expect(objectsOfEvent(null)).toEqual([]);
  });
});

describe('wanted', () => {
  it.each([
    [{ bucket: 'rap-inbox', key: 'incoming/a.yaml' }, true],
    [{ bucket: 'rap-inbox', key: 'incoming/deep/b.YML' }, true],
    [{ bucket: 'rap-inbox', key: 'quarantine/incoming/a.yaml' }, false],
    [{ bucket: 'rap-inbox', key: 'incoming/a.yaml.report.json' }, false],
    [{ bucket: 'other', key: 'incoming/a.yaml' }, false],
  ])('%j -> %s', (o, expected) => {
    expect(wanted(o, 'rap-inbox', 'incoming/')).toBe(expected);
  });
});
