// RapReader over CQL: the local stack's way in (Stargate's REST API is the cluster's; same questions).
import type cassandra from 'cassandra-driver';
import type { CqlSession } from '../sink/cql.js';
import type { KeyedTable, LineRow, Page, PageRequest, RapReader } from './reader.js';
import { artistOf, byArtistOf, lineOf, meetupOf, songOf, str } from './rows.js';

type R = cassandra.types.Row;

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
