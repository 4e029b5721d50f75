// Deterministic record ids: UUIDv5 of natural keys, so replays and reruns upsert instead of duplicating.
import { v5 as uuidv5 } from 'uuid';

/** rapflow's UUIDv5 namespace: UUIDv5 of "https://rap.dok.community/" in the URL namespace. */
export const RAPFLOW_NAMESPACE = uuidv5('https://rap.dok.community/', uuidv5.URL);

/** NFC, trimmed, inner whitespace collapsed, lower-cased: "  Zoë   QUORUM " and "zoë quorum" are one key. */
export function normalise(s: string): string {
  return s.normalize('NFC').trim().replace(/\s+/gu, ' ').toLowerCase();
}

export const artistId = (name: string) => uuidv5(`artist:${normalise(name)}`, RAPFLOW_NAMESPACE);
export const songId = (artist: string, title: string) => uuidv5(`song:${normalise(artist)}\n${normalise(title)}`, RAPFLOW_NAMESPACE);
export const lineId = (song: string, lineNumber: number) => uuidv5(`line:${song}:${lineNumber}`, RAPFLOW_NAMESPACE);
export const meetupId = (date: string, title: string) => uuidv5(`meetup:${date}\n${normalise(title)}`, RAPFLOW_NAMESPACE);
