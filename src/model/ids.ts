// Deterministic record ids: UUIDv5 of natural keys, so replays and reruns upsert instead of duplicating.
import { createHash } from 'node:crypto';

/**
 * RFC 9562 UUIDv5 (SHA-1 of namespace + name). Written here rather than taken from the uuid
 * package because its JS UTF-8 and hashing made ids a tenth of split's time; a unit test pins
 * this to the uuid package's output.
 */
export function uuidv5(name: string, namespace: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const h = createHash('sha1').update(ns).update(name, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.toString('hex', 0, 16);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** The standard URL namespace of RFC 9562. */
export const URL_NAMESPACE = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

/** rapflow's UUIDv5 namespace: UUIDv5 of "https://rap.dok.community/" in the URL namespace. */
export const RAPFLOW_NAMESPACE = uuidv5('https://rap.dok.community/', URL_NAMESPACE);

/** NFC, trimmed, inner whitespace collapsed, lower-cased: "  Zoë   QUORUM " and "zoë quorum" are one key. */
export function normalise(s: string): string {
  return s.normalize('NFC').trim().replace(/\s+/gu, ' ').toLowerCase();
}

export const artistId = (name: string) => uuidv5(`artist:${normalise(name)}`, RAPFLOW_NAMESPACE);
export const songId = (artist: string, title: string) => uuidv5(`song:${normalise(artist)}\n${normalise(title)}`, RAPFLOW_NAMESPACE);
export const lineId = (song: string, lineNumber: number) => uuidv5(`line:${song}:${lineNumber}`, RAPFLOW_NAMESPACE);
export const meetupId = (date: string, title: string) => uuidv5(`meetup:${date}\n${normalise(title)}`, RAPFLOW_NAMESPACE);
