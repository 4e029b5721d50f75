// The Cassandra tables rapflow writes, designed for the reads (docs/data-design.md), and how records map to rows.
import type { RecordName } from '../codec/schemas.js';

export const TABLES = [
  // Songs by id: the song page.
  `CREATE TABLE IF NOT EXISTS {ks}.songs (
    id uuid PRIMARY KEY, slug text, title text, artist_id uuid, artist text, featuring list<text>, album text,
    release_date date, language text, tags list<text>, sections text, line_count int, bpm int, source_format text)`,
  // Songs by artist, newest first: the artist page.
  `CREATE TABLE IF NOT EXISTS {ks}.songs_by_artist (
    artist_id uuid, release_date date, song_id uuid, title text, album text,
    PRIMARY KEY ((artist_id), release_date, song_id)) WITH CLUSTERING ORDER BY (release_date DESC, song_id ASC)`,
  // Lyric lines by song, in order: one partition per song, one row per line.
  `CREATE TABLE IF NOT EXISTS {ks}.lyric_lines (
    song_id uuid, line_number int, id uuid, section_index int, section text, performer text, text text,
    PRIMARY KEY ((song_id), line_number)) WITH CLUSTERING ORDER BY (line_number ASC)`,
  `CREATE TABLE IF NOT EXISTS {ks}.artists (
    id uuid PRIMARY KEY, slug text, name text, real_name text, origin text, genres list<text>, active_since int, bio text)`,
  `CREATE TABLE IF NOT EXISTS {ks}.meetups (
    id uuid PRIMARY KEY, slug text, title text, date date, venue text, city text, country text,
    host_id uuid, host text, performers list<text>, setlist text)`,
];

/**
 * Partition key columns of the tables whose partitions hold several rows (a clustering column
 * follows the key: lyric lines by song, songs by artist), read from the DDL above.
 */
const MULTI_ROW_PARTITIONS: ReadonlyMap<string, string[]> = new Map(
  TABLES.flatMap((ddl) => {
    const key = /PRIMARY KEY \(\(([\w, ]+)\),/.exec(ddl);
    return key ? [[/\{ks\}\.(\w+)/.exec(ddl)![1]!, key[1]!.split(/,\s*/)] as const] : [];
  }),
);

/** The partition key of `table` when its partitions hold several rows; undefined when each row is a partition. */
export function partitionKeyOf(table: string): string[] | undefined {
  return MULTI_ROW_PARTITIONS.get(table);
}

export interface Row {
  table: string;
  values: Record<string, unknown>;
}

type Rec = Record<string, unknown>;

/** Every row a record becomes; upserts keyed by the record's id, so a replay rewrites the same rows. */
export function rowsOf(name: RecordName, r: Rec): Row[] {
  switch (name) {
    case 'Song':
      return [
        {
          table: 'songs',
          values: {
            id: r.id, slug: r.slug, title: r.title, artist_id: r.artistId, artist: r.artist, featuring: r.featuring, album: r.album,
            release_date: r.releaseDate, language: r.language, tags: r.tags, sections: JSON.stringify(r.sections), line_count: r.lineCount,
            bpm: r.bpm ?? null, source_format: r.sourceFormat,
          },
        },
        { table: 'songs_by_artist', values: { artist_id: r.artistId, release_date: r.releaseDate, song_id: r.id, title: r.title, album: r.album } },
      ];
    case 'LyricLine':
      return [
        {
          table: 'lyric_lines',
          values: { song_id: r.songId, line_number: r.lineNumber, id: r.id, section_index: r.sectionIndex, section: r.section, performer: r.performer, text: r.text },
        },
      ];
    case 'Artist':
      return [
        {
          table: 'artists',
          values: { id: r.id, slug: r.slug, name: r.name, real_name: r.realName, origin: r.origin, genres: r.genres, active_since: r.activeSince, bio: r.bio },
        },
      ];
    case 'Meetup':
      return [
        {
          table: 'meetups',
          values: {
            id: r.id, slug: r.slug, title: r.title, date: r.date, venue: r.venue, city: r.city, country: r.country,
            host_id: r.hostId, host: r.host, performers: r.performers, setlist: JSON.stringify(r.setlist),
          },
        },
      ];
    default:
      return [];
  }
}
