// The Cassandra tables rapflow writes, designed for the reads (docs/data-design.md), and how records map to rows.
import type { RecordName } from '../codec/schemas.js';
import { RapflowError } from '../errors.js';

/**
 * A column type as both CQL and Stargate's schema API spell it. Lists are frozen: one cell, so the
 * same list written twice at the same write time is one value, not the elements of both
 * (docs/data-design.md, "Write time").
 */
export type ColumnType = 'uuid' | 'text' | 'int' | 'date' | 'frozen<list<text>>';

/** One table, as data: CQL DDL (`cqlDdl`) and Stargate's REST schema (`stargateTable`) are made from it. */
export interface TableDef {
  name: string;
  columns: [name: string, type: ColumnType][];
  partitionKey: string[];
  /** Clustering columns in order, with their order. */
  clustering: [column: string, order: 'ASC' | 'DESC'][];
}

/** The tables rapflow writes, designed for the reads (docs/data-design.md). */
export const TABLE_DEFS: readonly TableDef[] = [
  // Songs by id: the song page.
  {
    name: 'songs',
    columns: [
      ['id', 'uuid'], ['slug', 'text'], ['title', 'text'], ['artist_id', 'uuid'], ['artist', 'text'], ['featuring', 'frozen<list<text>>'], ['album', 'text'],
      ['release_date', 'date'], ['language', 'text'], ['tags', 'frozen<list<text>>'], ['sections', 'text'], ['line_count', 'int'], ['bpm', 'int'], ['source_format', 'text'],
    ],
    partitionKey: ['id'],
    clustering: [],
  },
  // Songs by artist, newest first: the artist page.
  {
    name: 'songs_by_artist',
    columns: [['artist_id', 'uuid'], ['release_date', 'date'], ['song_id', 'uuid'], ['title', 'text'], ['album', 'text']],
    partitionKey: ['artist_id'],
    clustering: [['release_date', 'DESC'], ['song_id', 'ASC']],
  },
  // Lyric lines by song, in order: one partition per song, one row per line.
  {
    name: 'lyric_lines',
    columns: [['song_id', 'uuid'], ['line_number', 'int'], ['id', 'uuid'], ['section_index', 'int'], ['section', 'text'], ['performer', 'text'], ['text', 'text']],
    partitionKey: ['song_id'],
    clustering: [['line_number', 'ASC']],
  },
  {
    name: 'artists',
    columns: [['id', 'uuid'], ['slug', 'text'], ['name', 'text'], ['real_name', 'text'], ['origin', 'text'], ['genres', 'frozen<list<text>>'], ['active_since', 'int'], ['bio', 'text']],
    partitionKey: ['id'],
    clustering: [],
  },
  {
    name: 'meetups',
    columns: [
      ['id', 'uuid'], ['slug', 'text'], ['title', 'text'], ['date', 'date'], ['venue', 'text'], ['city', 'text'], ['country', 'text'],
      ['host_id', 'uuid'], ['host', 'text'], ['performers', 'frozen<list<text>>'], ['setlist', 'text'],
    ],
    partitionKey: ['id'],
    clustering: [],
  },
];

/** `CREATE TABLE IF NOT EXISTS {ks}.<name> ...` for a table; `{ks}` is replaced by the session. */
export function cqlDdl(t: TableDef): string {
  const cols = t.columns.map(([n, type]) => `${n} ${type}`).join(', ');
  const key = `(${t.partitionKey.join(', ')})${t.clustering.map(([c]) => `, ${c}`).join('')}`;
  const order = t.clustering.length ? ` WITH CLUSTERING ORDER BY (${t.clustering.map(([c, o]) => `${c} ${o}`).join(', ')})` : '';
  return `CREATE TABLE IF NOT EXISTS {ks}.${t.name} (${cols}, PRIMARY KEY (${key}))${order}`;
}

/** The tables' CQL DDL, in order. */
export const TABLES: readonly string[] = TABLE_DEFS.map(cqlDdl);

/**
 * Partition key columns of the tables whose partitions hold several rows (a clustering column
 * follows the key: lyric lines by song, songs by artist).
 */
const MULTI_ROW_PARTITIONS: ReadonlyMap<string, string[]> = new Map(TABLE_DEFS.filter((t) => t.clustering.length > 0).map((t) => [t.name, t.partitionKey]));

/** The partition key of `table` when its partitions hold several rows; undefined when each row is a partition. */
export function partitionKeyOf(table: string): string[] | undefined {
  return MULTI_ROW_PARTITIONS.get(table);
}

export interface Row {
  table: string;
  values: Record<string, unknown>;
  /** Microseconds since the epoch: the record's version time, for a backend that writes with a timestamp (CQL's `USING TIMESTAMP`). */
  writeTime?: number;
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

/** The rows of every record, each with the index of the record it came from. */
export function rowsOfRecords(records: readonly { name: RecordName; record: Rec; writeTime?: number }[]): { rows: Row[]; owner: number[] } {
  const rows: Row[] = [];
  const owner: number[] = [];
  records.forEach((r, i) => {
    for (const row of rowsOf(r.name, r.record)) {
      rows.push(r.writeTime === undefined ? row : { ...row, writeTime: r.writeTime });
      owner.push(i);
    }
  });
  return { rows, owner };
}

/** Row failures as record failures: the first failure of each record, by the record's index. */
export function byRecord<F extends { index: number }>(failures: F[], owner: number[]): F[] {
  const seen = new Map<number, F>();
  for (const f of failures) {
    const i = owner[f.index]!;
    if (!seen.has(i)) seen.set(i, { ...f, index: i });
  }
  return [...seen.values()];
}

/** CQL spells text as varchar too. */
export const sameType = (t: string) => t.replace(/\bvarchar\b/g, 'text');

/**
 * How a column found in a table stands to the type the datamodel wants: `same`; `legacy-list`, a
 * non-frozen list where the datamodel wants it frozen (a table made before lists were frozen: it
 * still works, written without a version time, see untimedTables); or `other`, which db init refuses.
 */
export function columnFit(found: string, wanted: ColumnType): 'same' | 'legacy-list' | 'other' {
  const f = sameType(found.toLowerCase().replace(/\s+/g, ''));
  if (f === wanted) return 'same';
  return wanted.startsWith('frozen<') && `frozen<${f}>` === wanted ? 'legacy-list' : 'other';
}

/**
 * The type `db init` adds a missing column as: the datamodel's, except where a non-frozen list of
 * that name was dropped from the table (`droppedType`, from `system_schema.dropped_columns`):
 * Cassandra refuses to add a column again under a dropped name with another type ("Cannot re-add
 * previously dropped column ... incompatible with previous type list<text>"), so it comes back
 * non-frozen, and the table is written as one made before (untimedTables).
 */
export function typeToAdd(wanted: ColumnType, droppedType: string | undefined): string {
  return droppedType !== undefined && columnFit(droppedType, wanted) === 'legacy-list' ? droppedType : wanted;
}

/** A column as `system_schema.columns` lists it. */
export interface FoundColumn {
  table: string;
  column: string;
  type: string;
}

/**
 * The tables of `defs` that must be written without a version time, each with its non-frozen list
 * columns. A non-frozen list is a cell per element: a write at time T clears the list at T-1 and
 * adds its elements at T, so a second write of the same version at the same T keeps the elements of
 * both (['x', 'y'] twice became ['x', 'y', 'x', 'y']). Written at its own (later) time, each write
 * clears the list the one before wrote: last write wins by arrival, no duplicates.
 */
export function untimedTables(found: readonly FoundColumn[], defs: readonly TableDef[] = TABLE_DEFS): Map<string, string[]> {
  const types = new Map(found.map((c) => [`${c.table}.${c.column}`, c.type]));
  const out = new Map<string, string[]>();
  for (const t of defs) {
    const legacy = t.columns.filter(([n, wanted]) => {
      const type = types.get(`${t.name}.${n}`);
      return type !== undefined && columnFit(type, wanted) === 'legacy-list';
    });
    if (legacy.length) out.set(t.name, legacy.map(([n]) => n));
  }
  return out;
}

export function retypeRefused(ks: string, table: string, column: string, found: string, wanted: string): RapflowError {
  return new RapflowError(
    'CONFIG_INVALID',
    `${ks}.${table}.${column} is ${found}, the datamodel wants ${wanted}: db init adds columns but never retypes or drops one (that would lose data); migrate it by hand`,
  );
}
