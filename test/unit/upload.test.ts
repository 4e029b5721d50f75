// `rapflow upload` names each inbox object after the file's path below the folder given, or after
// the file itself when one file is given (it was put under the bare prefix, as a "folder" key).
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { upload, type InboxStore } from '../../src/pipeline/discover.js';
import { LocalSource } from '../../src/source/local.js';

/** An in-process bucket (pure logic under test: the naming), keys as put. */
function memoryStore(): InboxStore & { keys: string[] } {
  const keys: string[] = [];
  return {
    keys,
    list: () => [][Symbol.iterator]() as unknown as AsyncIterable<never>,
    put(_bucket, key) {
      keys.push(key);
      return Promise.resolve(`etag-${keys.length}`);
    },
  };
}

describe('upload', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rapflow-upload-'));
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'a.yaml'), 'a: 1\n');
  writeFileSync(join(dir, 'sub', 'b.yaml'), 'b: 1\n');

  it('keeps the path below the folder given', async () => {
    const store = memoryStore();
    await upload(new LocalSource(dir), store, 'rap-inbox', 'incoming/x/', dir);
    expect(store.keys.sort()).toEqual(['incoming/x/a.yaml', 'incoming/x/sub/b.yaml']);
  });

  it('names a single file given by itself after the file', async () => {
    const store = memoryStore();
    const file = join(dir, 'sub', 'b.yaml');
    const done = await upload(new LocalSource(file), store, 'rap-inbox', 'incoming/x/', file);
    expect(store.keys).toEqual(['incoming/x/b.yaml']);
    expect(done.map((u) => u.key)).toEqual(['incoming/x/b.yaml']);
  });
});
