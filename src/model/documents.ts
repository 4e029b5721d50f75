// The Rap-as-Code format (data/README.md): zod schemas over the YAML values, and the flat legacy format's conversion.
import { z } from 'zod';
import { isoDateToDays } from '../codec/logical-types.js';
import { songId } from './ids.js';
import type { YamlValue } from './yaml.js';

export const API_VERSION = 'rap.dok.community/v1';
export const SECTION_KINDS = ['intro', 'verse', 'hook', 'chorus', 'bridge', 'outro'] as const;
export type SectionKindName = (typeof SECTION_KINDS)[number];

/** Longest lyric line accepted, in characters. */
export const MAX_LINE_CHARS = 400;
export const MAX_LINES_PER_SONG = 2_000;

const text = z
  .string({ error: (i) => (i.input === undefined || i.input === null ? 'required' : 'expected text') })
  .transform((s) => s.normalize('NFC').trim())
  .refine((s) => s.length > 0, 'must not be empty')
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
  .refine((s) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/u.test(s), 'contains control characters');
const optionalText = text.nullish().transform((v) => v ?? undefined);
const list = <T extends z.ZodType>(item: T) => z.array(item, { error: 'expected a list' }).nullish().transform((v) => v ?? []);
const slug = z
  .string({ error: 'required' })
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'expected a slug: lowercase letters, digits and "-", at most 63');
const isoDate = z
  .string({ error: (i) => (i.input === undefined || i.input === null ? 'required' : 'expected a date YYYY-MM-DD') })
  .transform((s) => s.trim())
  .refine((s) => isoDateToDays(s) !== undefined, { error: (i) => `expected a real date YYYY-MM-DD, got "${String(i.input)}"` });
const intIn = (min: number, max: number, what: string) =>
  z
    .string({ error: `expected ${what}` })
    .regex(/^\s*\d+\s*$/, `expected ${what}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `expected ${what} between ${min} and ${max}`);
const language = z
  .string({ error: 'required' })
  .regex(/^(und|[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*)$/, 'expected a BCP-47 language tag such as en, pt-BR, ja');
const country = z.string().regex(/^[A-Z]{2}$/, 'expected an ISO-3166 alpha-2 country code such as PT');

const metadata = z.strictObject({ name: slug, labels: z.record(z.string(), z.string()).nullish() }, { error: 'expected a map with name' });

const section = z.strictObject(
  {
    section: z.enum(SECTION_KINDS, { error: `expected one of ${SECTION_KINDS.join(', ')}` }),
    by: optionalText,
    lines: z
      .array(text.refine((l) => [...l].length <= MAX_LINE_CHARS, `a lyric line may have at most ${MAX_LINE_CHARS} characters`), {
        error: 'expected a list of lines',
      })
      .min(1, 'a section needs at least one line'),
  },
  { error: 'expected a section: {section, lines}' },
);

export const ArtistSpec = z.strictObject({
  name: text,
  realName: optionalText,
  origin: optionalText,
  genres: list(text),
  activeSince: intIn(1970, 2100, 'a year').nullish().transform((v) => v ?? undefined),
  bio: optionalText,
});

export const SongSpec = z.strictObject({
  title: text,
  artist: text,
  featuring: list(text),
  album: optionalText,
  releaseDate: isoDate,
  language,
  tags: list(text.transform((t) => t.toLowerCase())),
  bpm: intIn(20, 300, 'beats per minute').nullish().transform((v) => v ?? undefined),
  lyrics: z.array(section, { error: 'expected a list of sections' }).min(1, 'a song needs at least one section'),
});

export const MeetupSpec = z.strictObject({
  title: text,
  date: isoDate,
  place: z.strictObject({ venue: text, city: text, country: country.nullish().transform((v) => v ?? undefined) }),
  host: text,
  performers: z.array(text, { error: 'expected a list of artist names' }).min(1, 'a meetup needs performers'),
  setlist: z
    .array(z.strictObject({ artist: text, title: text }), { error: 'expected a list of {artist, title}' })
    .min(1, 'a setlist needs at least one song'),
});

const envelope = <K extends string, S extends z.ZodType>(kind: K, spec: S) =>
  z.strictObject({
    apiVersion: z.literal(API_VERSION, { error: `expected apiVersion: ${API_VERSION}` }),
    kind: z.literal(kind),
    metadata,
    spec,
  });

export const ArtistDocument = envelope('Artist', ArtistSpec);
export const SongDocument = envelope('Song', SongSpec);
export const MeetupDocument = envelope('Meetup', MeetupSpec);

/** The community's first format: one song per document, flat keys, lyrics as one text block. */
export const FlatSongDocument = z.strictObject({
  singer: text,
  collaborated_artists: list(z.strictObject({ artist: text })),
  song_name: text,
  album: optionalText,
  date_of_release: isoDate,
  lyrics: z.string({ error: 'required' }).refine((s) => s.trim().length > 0, 'must not be empty'),
});

export type ArtistDoc = z.infer<typeof ArtistDocument>;
export type SongDoc = z.infer<typeof SongDocument>;
export type MeetupDoc = z.infer<typeof MeetupDocument>;
export type FlatSongDoc = z.infer<typeof FlatSongDocument>;

export type RapDocument =
  | { kind: 'Artist'; doc: ArtistDoc }
  | { kind: 'Song'; doc: SongDoc; format: 'RAP_AS_CODE_V1' | 'FLAT_LEGACY' }
  | { kind: 'Meetup'; doc: MeetupDoc };

export const KINDS = ['Artist', 'Song', 'Meetup'] as const;

/** Which schema a YAML document claims to follow, so errors speak of the right fields. */
export function schemaFor(value: YamlValue): { kind: 'Artist' | 'Song' | 'Meetup' | 'Flat'; schema: z.ZodType } | { error: string; path: string } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { error: 'expected a map with apiVersion, kind, metadata and spec', path: '' };
  }
  if (!('apiVersion' in value) && !('kind' in value) && ('song_name' in value || 'singer' in value)) {
    return { kind: 'Flat', schema: FlatSongDocument };
  }
  const kind = value.kind;
  if (kind === 'Artist') return { kind, schema: ArtistDocument };
  if (kind === 'Song') return { kind, schema: SongDocument };
  if (kind === 'Meetup') return { kind, schema: MeetupDocument };
  return {
    error: kind === undefined || kind === null ? `required: one of ${KINDS.join(', ')}` : `unknown kind ${JSON.stringify(kind)}: expected one of ${KINDS.join(', ')}`,
    path: 'kind',
  };
}

const MARKER = /^\s*\[\s*(intro|verse|hook|chorus|bridge|outro)(?:[^\]]*)\]\s*$/i;

/** Converts a flat-format song into the v1 document: stanzas (blank-line separated) become sections. */
export function fromFlat(flat: FlatSongDoc): SongDoc {
  const sections: SongDoc['spec']['lyrics'] = [];
  for (const stanza of flat.lyrics.replace(/\r\n?/g, '\n').split(/\n\s*\n/)) {
    let kind: SectionKindName = 'verse';
    const lines: string[] = [];
    for (const raw of stanza.split('\n')) {
      const line = raw.normalize('NFC').trim();
      const marker = MARKER.exec(line);
      if (marker) kind = marker[1]!.toLowerCase() as SectionKindName;
      else if (line) lines.push(line);
    }
    if (lines.length > 0) sections.push({ section: kind, lines, by: undefined });
  }
  return {
    apiVersion: API_VERSION,
    kind: 'Song',
    metadata: { name: slugify(flat.song_name) || `song-${songId(flat.singer, flat.song_name).slice(0, 8)}`, labels: undefined },
    spec: {
      title: flat.song_name,
      artist: flat.singer,
      featuring: flat.collaborated_artists.map((c) => c.artist),
      album: flat.album,
      releaseDate: flat.date_of_release,
      language: 'und',
      tags: [],
      bpm: undefined,
      lyrics: sections,
    },
  };
}

/** A metadata.name for a title: ASCII letters and digits, accents dropped, other characters as "-"; empty for non-Latin titles. */
export function slugify(title: string): string {
  const s = title
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return s;
}
