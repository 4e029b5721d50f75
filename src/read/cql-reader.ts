// RapReader over CQL: the local stack's way in (Stargate's REST API is the cluster's; same questions).
import type cassandra from 'cassandra-driver';
import type { CqlSession } from '../sink/cql.js';
import type { ArtistRow, KeyedTable, LineRow, MeetupRow, Page, PageRequest, RapReader, SongByArtistRow, SongRow } from './reader.js';

type R = cassandra.types.Row;

// Driver values (Uuid, LocalDate, strings, numbers) all print as their CQL text form.
const str = (v: unknown): string => (v === null || v === undefined ? '' : (v as { toString(): string }).toString());
const optStr = (v: unknown): string | null => (v === null || v === undefined ? null : str(v));
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const json = <T>(v: unknown, fallback: T): T => (typeof v === 'string' && v !== '' ? (JSON.parse(v) as T) : fallback);

export const songOf = (r: R): SongRow => ({
  id: str(r.id),
  slug: str(r.slug),
  title: str(r.title),
  artistId: str(r.artist_id),
  artist: str(r.artist),
  featuring: list(r.featuring),
  album: optStr(r.album),
  releaseDate: str(r.release_date),
  language: str(r.language),
  tags: list(r.tags),
  sections: json(r.sections, []),
  lineCount: Number(r.line_count ?? 0),
  bpm: r.bpm === null || r.bpm === undefined ? null : Number(r.bpm),
  sourceFormat: str(r.source_format) as SongRow['sourceFormat'],
});

const lineOf = (r: R): LineRow => ({
  songId: str(r.song_id),
  lineNumber: Number(r.line_number),
  id: str(r.id),
  sectionIndex: Number(r.section_index),
  section: str(r.section),
  performer: str(r.performer),
  text: str(r.text),
});

const artistOf = (r: R): ArtistRow => ({
  id: str(r.id),
  slug: str(r.slug),
  name: str(r.name),
  realName: optStr(r.real_name),
  origin: optStr(r.origin),
  genres: list(r.genres),
  activeSince: r.active_since === null || r.active_since === undefined ? null : Number(r.active_since),
  bio: optStr(r.bio),
});

const meetupOf = (r: R): MeetupRow => ({
  id: str(r.id),
  slug: str(r.slug),
  title: str(r.title),
  date: str(r.date),
  venue: str(r.venue),
  city: str(r.city),
  country: optStr(r.country),
  hostId: str(r.host_id),
  host: str(r.host),
  performers: list(r.performers),
  setlist: json(r.setlist, []),
});

const byArtistOf = (r: R): SongByArtistRow => ({
  artistId: str(r.artist_id),
  releaseDate: str(r.release_date),
  songId: str(r.song_id),
  title: str(r.title),
  album: optStr(r.album),
});

/** Ids per IN query: small enough for the coordinator, large enough to keep round trips few. */
const IN_CHUNK = 100;

export class CqlReader implements RapReader {
  constructor(
    private readonly cql: CqlSession,
    private readonly keyspace: string,
  ) {}

  private async page<T>(query: string, params: unknown[], req: PageRequest, map: (r: R) => T): Promise<Page<T>> {
    const rs = await this.cql.execute(query, params, { prepare: true, fetchSize: req.size, ...(req.state ? { pageState: req.state } : {}) });
    return { rows: rs.rows.map(map), ...(rs.pageState ? { next: rs.pageState } : {}) };
  }

  private async one<T>(table: string, id: string, map: (r: R) => T): Promise<T | undefined> {
    const rs = await this.cql.execute(`SELECT * FROM ${this.keyspace}.${table} WHERE id = ?`, [id], { prepare: true });
    const row = rs.first() as R | null;
    return row ? map(row) : undefined;
  }

  songsByArtist(artistId: string, req: PageRequest) {
    return this.page(`SELECT * FROM ${this.keyspace}.songs_by_artist WHERE artist_id = ?`, [artistId], req, byArtistOf);
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

  async lines(songId: string): Promise<LineRow[]> {
    const out: LineRow[] = [];
    let state: string | undefined;
    do {
      const p = await this.page(`SELECT * FROM ${this.keyspace}.lyric_lines WHERE song_id = ?`, [songId], { size: 1000, ...(state ? { state } : {}) }, lineOf);
      out.push(...p.rows);
      state = p.next;
    } while (state);
    return out;
  }

  songs(req: PageRequest) {
    return this.page(`SELECT * FROM ${this.keyspace}.songs`, [], req, songOf);
  }

  artists(req: PageRequest) {
    return this.page(`SELECT * FROM ${this.keyspace}.artists`, [], req, artistOf);
  }

  meetups(req: PageRequest) {
    return this.page(`SELECT * FROM ${this.keyspace}.meetups`, [], req, meetupOf);
  }

  allLines(req: PageRequest) {
    return this.page(`SELECT * FROM ${this.keyspace}.lyric_lines`, [], req, lineOf);
  }

  async existing(table: KeyedTable, ids: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += IN_CHUNK) {
      const chunk = ids.slice(i, i + IN_CHUNK);
      const rs = await this.cql.execute(`SELECT id FROM ${this.keyspace}.${table} WHERE id IN ?`, [chunk], { prepare: true });
      for (const r of rs.rows) found.add(str(r.id));
    }
    return found;
  }

  async close(): Promise<void> {
    await this.cql.close();
  }
}
