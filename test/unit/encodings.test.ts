// Files saved in another Unicode encoding are named for what they are, with what to do.
import { describe, expect, it } from 'vitest';
import { readYaml, wideEncoding } from '../../src/model/yaml.js';

const TEXT = 'apiVersion: rap.dok.community/v1\nkind: Artist\nmetadata:\n  name: échelon\nspec:\n  name: "Échelon"\n';
const utf16le = (s: string) => Buffer.from(s, 'utf16le');
const utf16be = (s: string) => Buffer.from(utf16le(s)).swap16();
const utf32le = (s: string) => Buffer.concat([...s].map((ch) => { const b = Buffer.alloc(4); b.writeUInt32LE(ch.codePointAt(0)!); return b; }));
const utf32be = (s: string) => Buffer.concat([...s].map((ch) => { const b = Buffer.alloc(4); b.writeUInt32BE(ch.codePointAt(0)!); return b; }));

describe('files in UTF-16 or UTF-32', () => {
  it.each([
    ['UTF-16 LE with a BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), utf16le(TEXT)]), 'UTF-16 (little-endian, with a byte order mark)'],
    ['UTF-16 BE with a BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(TEXT)]), 'UTF-16 (big-endian, with a byte order mark)'],
    ['UTF-16 LE without one', utf16le(TEXT), 'UTF-16 (little-endian)'],
    ['UTF-16 BE without one', utf16be(TEXT), 'UTF-16 (big-endian)'],
    ['UTF-32 LE with a BOM', Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), utf32le(TEXT)]), 'UTF-32 (little-endian, with a byte order mark)'],
    ['UTF-32 BE with a BOM', Buffer.concat([Buffer.from([0, 0, 0xfe, 0xff]), utf32be(TEXT)]), 'UTF-32 (big-endian, with a byte order mark)'],
    ['UTF-32 LE without one', utf32le(TEXT), 'UTF-32 (little-endian)'],
  ])('%s: says so and to save it as UTF-8', (_what, bytes, name) => {
    expect(wideEncoding(bytes)).toBe(name);
    const r = readYaml(bytes);
    expect(r.problems).toEqual([{ document: 0, line: 1, column: 1, message: `this file is ${name}; save it as UTF-8 (Rap-as-Code files are UTF-8 text)` }]);
  });

  it('leaves UTF-8 (with or without a BOM) and binary with a stray NUL alone', () => {
    expect(wideEncoding(Buffer.from(TEXT))).toBeUndefined();
    expect(readYaml(Buffer.from(TEXT)).problems).toEqual([]);
    expect(wideEncoding(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(TEXT)]))).toBeUndefined();
    const binary = Buffer.from(TEXT);
    binary[40] = 0;
    expect(wideEncoding(binary)).toBeUndefined();
    expect(readYaml(binary).problems[0]!.message).toMatch(/binary content \(a NUL byte\)/);
  });
});
