// The RapReader questions in terms of two primitives every way into Cassandra has: a paged read
// of a table (optionally one partition, by an equality on its key) and a row by id.
import type { KeyedTable, Page, PageRequest, RapReader } from '../read/reader.js';
import { collect, everyRow } from '../read/reader.js';
import { artistOf, byArtistOf, lineOf, meetupOf, songOf, type RowLike } from './rows.js';

/** An equality on a key column: `[column, value]`. */
export type Eq = [string, string];

export abstract class TableReader implements RapReader {
  protected abstract page<T>(table: string, req: PageRequest, map: (r: RowLike) => T, eq?: Eq): Promise<Page<T>>;
  protected abstract one<T>(table: KeyedTable, id: string, map: (r: RowLike) => T): Promise<T | undefined>;
  abstract existing(table: KeyedTable, ids: string[]): Promise<Set<string>>;
  abstract close(): Promise<void>;

  songsByArtist(artistId: string, req: PageRequest) {
    return this.page('songs_by_artist', req, byArtistOf, ['artist_id', artistId]);
  }

  song(id: string) {
    return this.one('songs', id, songOf);
  }

  artist(id: string) {
    return this.one('artists', id, artistOf);
  }

  meetup(id: string) {
    return this.one('meetups', id, meetupOf);
  }

  lines(songId: string) {
    return collect(everyRow((p) => this.page('lyric_lines', p, lineOf, ['song_id', songId]), 1000));
  }

  songs(req: PageRequest) {
    return this.page('songs', req, songOf);
  }

  artists(req: PageRequest) {
    return this.page('artists', req, artistOf);
  }

  meetups(req: PageRequest) {
    return this.page('meetups', req, meetupOf);
  }

  allLines(req: PageRequest) {
    return this.page('lyric_lines', req, lineOf);
  }
}
