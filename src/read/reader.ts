// What rapflow reads back: the questions `query`, `verify` and `report` ask of the tables.
// One interface, so the same commands read through CQL (the local stack) or Stargate's REST API (a cluster).

import type { ArtistRecord, LyricLineRecord, MeetupRecord, SongRecord } from '../model/records.js';

/** Rows read back have the shape of the records written: what went in is what comes out. */
export type SongRow = SongRecord;
export type LineRow = LyricLineRecord;
export type ArtistRow = ArtistRecord;
export type MeetupRow = MeetupRecord;

export interface SongByArtistRow {
  artistId: string;
  releaseDate: string;
  songId: string;
  title: string;
  album: string | null;
}

/** One page of a paged read; `next` is opaque, absent on the last page. */
export interface Page<T> {
  rows: T[];
  next?: string;
}

export interface PageRequest {
  size: number;
  state?: string;
}

export type KeyedTable = 'songs' | 'artists' | 'meetups';

export interface RapReader {
  /** Newest first. */
  songsByArtist(artistId: string, page: PageRequest): Promise<Page<SongByArtistRow>>;
  song(id: string): Promise<SongRow | undefined>;
  /** Every line of a song, in order. */
  lines(songId: string): Promise<LineRow[]>;
  artist(id: string): Promise<ArtistRow | undefined>;
  meetup(id: string): Promise<MeetupRow | undefined>;
  /** Whole-table scans, paged (the report and `query lines`). */
  songs(page: PageRequest): Promise<Page<SongRow>>;
  artists(page: PageRequest): Promise<Page<ArtistRow>>;
  meetups(page: PageRequest): Promise<Page<MeetupRow>>;
  allLines(page: PageRequest): Promise<Page<LineRow>>;
  /** Which of these ids have a row in the table. */
  existing(table: KeyedTable, ids: string[]): Promise<Set<string>>;
  close(): Promise<void>;
}

/** Every row of a paged read, page after page. */
export async function* everyRow<T>(read: (page: PageRequest) => Promise<Page<T>>, size = 500): AsyncGenerator<T> {
  let state: string | undefined;
  do {
    const page = await read({ size, ...(state ? { state } : {}) });
    yield* page.rows;
    state = page.next;
  } while (state);
}

export async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const r of rows) out.push(r);
  return out;
}
