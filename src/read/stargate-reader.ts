// RapReader over Stargate's REST API v2: the same questions as the CQL reader, as HTTP GETs.
import { artistOf, byArtistOf, lineOf, meetupOf, songOf, str, type RowLike } from './rows.js';
import type { KeyedTable, Page, PageRequest, RapReader } from './reader.js';
import type { StargateClient } from './stargate.js';

interface Rows {
  count: number;
  pageState?: string | null;
  data: RowLike[];
}

/** Ids per `$in` filter: the whole URL must stay under Jetty's 8 KiB header limit. */
const IN_CHUNK = 80;

export class StargateReader implements RapReader {
  constructor(
    private readonly client: StargateClient,
    private readonly keyspace: string,
  ) {}

  private async page<T>(table: string, req: PageRequest, map: (r: RowLike) => T, where?: Record<string, unknown>, suffix = ''): Promise<Page<T>> {
    const params: Record<string, string> = { 'page-size': String(req.size) };
    if (where) params.where = JSON.stringify(where);
    if (req.state) params['page-state'] = req.state;
    const res = await this.client.get<Rows>(`/v2/keyspaces/${this.keyspace}/${table}${suffix}`, params);
    const rows = (res?.data ?? []).map(map);
    return { rows, ...(res?.pageState ? { next: res.pageState } : {}) };
  }

  private async one<T>(table: string, id: string, map: (r: RowLike) => T): Promise<T | undefined> {
    const res = await this.client.get<Rows>(`/v2/keyspaces/${this.keyspace}/${table}/${encodeURIComponent(id)}`);
    const row = res?.data[0];
    return row ? map(row) : undefined;
  }

  songsByArtist(artistId: string, req: PageRequest) {
    return this.page('songs_by_artist', req, byArtistOf, { artist_id: { $eq: artistId } });
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

  async lines(songId: string) {
    const out = [];
    let state: string | undefined;
    do {
      const p = await this.page('lyric_lines', { size: 1000, ...(state ? { state } : {}) }, lineOf, { song_id: { $eq: songId } });
      out.push(...p.rows);
      state = p.next;
    } while (state);
    return out;
  }

  songs(req: PageRequest) {
    return this.page('songs', req, songOf, undefined, '/rows');
  }

  artists(req: PageRequest) {
    return this.page('artists', req, artistOf, undefined, '/rows');
  }

  meetups(req: PageRequest) {
    return this.page('meetups', req, meetupOf, undefined, '/rows');
  }

  allLines(req: PageRequest) {
    return this.page('lyric_lines', req, lineOf, undefined, '/rows');
  }

  async existing(table: KeyedTable, ids: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += IN_CHUNK) {
      const chunk = ids.slice(i, i + IN_CHUNK);
      let state: string | undefined;
      do {
        const p = await this.page(table, { size: chunk.length, ...(state ? { state } : {}) }, (r) => str(r.id), { id: { $in: chunk } });
        for (const id of p.rows) found.add(id);
        state = p.next;
      } while (state);
    }
    return found;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
