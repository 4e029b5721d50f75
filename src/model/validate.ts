// Whole-file validation of Rap-as-Code: syntax, format, Avro model and semantic rules, every problem with its place.
import type { z } from 'zod';
import type avro from 'avsc';
import { valueProblems, type RecordName } from '../codec/schemas.js';
import { fromFlat, MAX_LINES_PER_SONG, schemaFor, type ArtistDoc, type FlatSongDoc, type MeetupDoc, type RapDocument, type SongDoc } from './documents.js';
import { artistId, meetupId, normalise, songId } from './ids.js';
import { toRecords, type RecordSet } from './records.js';
import { DEFAULT_YAML_LIMITS, readYaml, readYamlFast, type Position, type YamlDocument, type YamlLimits } from './yaml.js';

export interface Problem {
  file: string;
  /** 1-based document index in the file; 0 when the whole file is unreadable. */
  document: number;
  line: number;
  column: number;
  /** Dotted field path inside the document (`spec.lyrics.2.lines.0`), or empty. */
  path: string;
  message: string;
}

export interface LocatedDocument {
  index: number;
  doc: RapDocument;
  positions: Map<string, Position>;
}

export interface ValidatedFile {
  file: string;
  documents: LocatedDocument[];
  problems: Problem[];
}

/** Avro types of the current model, by record name; validation checks records against them too. */
export type ModelTypes = Map<RecordName, avro.Type>;

/**
 * Validates a whole file. Valid files take a fast path (js-yaml, no positions); any problem, or
 * anything unusual in the bytes, sends the file through the careful reader, which knows the line
 * and column of every value. Positions of a fast-path file are computed when first asked for.
 */
export interface ValidateOptions {
  limits?: YamlLimits;
  /**
   * Check every record against the Avro types (default true). A caller that encodes the records
   * right after may skip it: encoding checks the same, and on failure the caller validates again
   * with the check on to learn which field is to blame.
   */
  modelCheck?: boolean;
}

export function validateFile(file: string, bytes: Uint8Array, types: ModelTypes, options: ValidateOptions = {}): ValidatedFile {
  const limits = options.limits ?? DEFAULT_YAML_LIMITS;
  const check = options.modelCheck === false ? undefined : types;
  const fast = readYamlFast(bytes, limits);
  if (fast) {
    let careful: YamlDocument[] | undefined;
    const positionsOf = (index: number) => (careful ??= readYaml(bytes, limits).documents)[index - 1]?.positions ?? new Map<string, Position>();
    const docs = fast.map((value, i) => ({
      index: i + 1,
      value,
      get positions() {
        return positionsOf(i + 1);
      },
    }));
    const result = validateDocuments(file, docs, [], check);
    if (result.problems.length === 0) return result;
  }
  const yaml = readYaml(bytes, limits);
  return validateDocuments(file, yaml.documents, yaml.problems, check);
}

function validateDocuments(file: string, ydocs: YamlDocument[], yamlProblems: Omit<Problem, 'file' | 'path'>[], types: ModelTypes | undefined): ValidatedFile {
  const problems: Problem[] = yamlProblems.map((p) => ({ file, path: '', ...p }));
  const documents: LocatedDocument[] = [];
  for (const ydoc of ydocs) {
    const located = validateDocument(file, ydoc, problems);
    if (located) documents.push(located);
  }
  if (yamlProblems.length === 0 && ydocs.length === 0) {
    problems.push({ file, document: 0, line: 1, column: 1, path: '', message: 'no documents: the file is empty' });
  }
  fileRules(file, documents, problems);
  if (problems.length === 0 && types) modelCheck(file, documents, types, problems);
  problems.sort((a, b) => a.document - b.document || a.line - b.line || a.column - b.column);
  return { file, documents, problems };
}

function validateDocument(file: string, ydoc: YamlDocument, problems: Problem[]): LocatedDocument | undefined {
  const at = (path: string, message: string) => problems.push(problemAt(file, ydoc.index, ydoc.positions, path, message));
  const which = schemaFor(ydoc.value);
  if ('error' in which) {
    at(which.path, which.error);
    return undefined;
  }
  const parsed = which.schema.safeParse(ydoc.value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) at(issue.path.join('.'), issueMessage(issue));
    return undefined;
  }
  let doc: RapDocument;
  if (which.kind === 'Flat') doc = { kind: 'Song', doc: fromFlat(parsed.data as FlatSongDoc), format: 'FLAT_LEGACY' };
  else if (which.kind === 'Song') doc = { kind: 'Song', doc: parsed.data as SongDoc, format: 'RAP_AS_CODE_V1' };
  else if (which.kind === 'Artist') doc = { kind: 'Artist', doc: parsed.data as ArtistDoc };
  else doc = { kind: 'Meetup', doc: parsed.data as MeetupDoc };
  return {
    index: ydoc.index,
    doc,
    get positions() {
      return ydoc.positions;
    },
  };
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_value' && issue.values.length === 1) return `expected ${JSON.stringify(issue.values[0])}`;
  return issue.message;
}

/** Position of `path`, or of its nearest ancestor that exists (a missing field points at its parent). */
export function problemAt(file: string, document: number, positions: Map<string, Position>, path: string, message: string): Problem {
  let p = path;
  let pos = positions.get(p);
  while (!pos && p) {
    p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '';
    pos = positions.get(p);
  }
  return { file, document, line: pos?.line ?? 1, column: pos?.column ?? 1, path, message };
}

/** Rules that need more than one field: duplicates in the file, who performs, who is featured. */
function fileRules(file: string, docs: LocatedDocument[], problems: Problem[]): void {
  const firstSeen = new Map<string, number>();
  const once = (key: string, d: LocatedDocument, path: string, what: string) => {
    const prev = firstSeen.get(key);
    if (prev === undefined) firstSeen.set(key, d.index);
    else problems.push(problemAt(file, d.index, d.positions, path, `duplicate ${what}: already defined in document ${prev}`));
  };
  for (const d of docs) {
    const at = (path: string, message: string) => problems.push(problemAt(file, d.index, d.positions, path, message));
    const nameKey = d.doc.kind === 'Song' && d.doc.format === 'FLAT_LEGACY' ? undefined : `${d.doc.kind}/name/${d.doc.doc.metadata.name}`;
    if (nameKey) once(nameKey, d, 'metadata.name', `${d.doc.kind} metadata.name "${d.doc.doc.metadata.name}"`);
    if (d.doc.kind === 'Song') {
      const s = d.doc.doc.spec;
      const flat = d.doc.format === 'FLAT_LEGACY';
      once(`song/${songId(s.artist, s.title)}`, d, flat ? 'song_name' : 'spec.title', `song "${s.title}" by "${s.artist}" (same song id)`);
      const artist = normalise(s.artist);
      s.featuring.forEach((f, i) => {
        if (normalise(f) === artist) at(flat ? `collaborated_artists.${i}.artist` : `spec.featuring.${i}`, `"${f}" is the song's own artist, not a featured one`);
      });
      const allowed = new Set([artist, ...s.featuring.map(normalise)]);
      s.lyrics.forEach((sec, i) => {
        if (sec.by !== undefined && !allowed.has(normalise(sec.by))) {
          at(`spec.lyrics.${i}.by`, `"${sec.by}" is neither the artist nor a featured artist of this song`);
        }
      });
      const lineCount = s.lyrics.reduce((n, sec) => n + sec.lines.length, 0);
      if (lineCount > MAX_LINES_PER_SONG) at(flat ? 'lyrics' : 'spec.lyrics', `${lineCount} lines, more than the limit of ${MAX_LINES_PER_SONG} per song`);
    } else if (d.doc.kind === 'Artist') {
      once(`artist/${artistId(d.doc.doc.spec.name)}`, d, 'spec.name', `artist "${d.doc.doc.spec.name}"`);
    } else {
      const s = d.doc.doc.spec;
      once(`meetup/${meetupId(s.date, s.title)}`, d, 'spec.title', `meetup "${s.title}" on ${s.date}`);
      const performers = new Set(s.performers.map(normalise));
      s.setlist.forEach((e, i) => {
        if (!performers.has(normalise(e.artist))) at(`spec.setlist.${i}.artist`, `"${e.artist}" is not among the meetup's performers`);
      });
    }
  }
}

/** The records built from valid documents must satisfy the Avro model exactly as producers will encode them. */
function modelCheck(file: string, docs: LocatedDocument[], types: ModelTypes, problems: Problem[]): void {
  for (const d of docs) {
    const set = toRecords([d.doc]);
    const pairs: [RecordName, unknown[]][] = [
      ['Song', set.songs],
      ['LyricLine', set.lines],
      ['Artist', set.artists],
      ['Meetup', set.meetups],
    ];
    for (const [name, records] of pairs) {
      const type = types.get(name);
      if (!type) continue;
      for (const r of records) {
        for (const p of valueProblems(type, r)) {
          problems.push(problemAt(file, d.index, d.positions, 'spec', `does not fit the Avro model: ${name}.${p.path} expected ${p.expected}, got ${JSON.stringify(p.value)}`));
        }
      }
    }
  }
}

export function recordsOf(file: ValidatedFile): RecordSet {
  return toRecords(file.documents.map((d) => d.doc));
}

/**
 * Cross-file references within one validation set: artists named by songs and meetups, songs in
 * setlists. A kind of reference is checked only when the set holds documents of the referenced
 * kind (validating one song file alone does not demand its artist's file). What this finds does
 * not make a file invalid: split takes each file alone and accepts it, since the artist may be
 * ingested already or come in a later file. It is reported beside the problems, for typos.
 */
export function referenceProblems(files: ValidatedFile[]): { problems: Problem[]; notes: string[] } {
  const artists = new Set<string>();
  const songs = new Set<string>();
  let hasArtists = false;
  let hasSongs = false;
  for (const f of files) {
    for (const d of f.documents) {
      if (d.doc.kind === 'Artist') {
        hasArtists = true;
        artists.add(normalise(d.doc.doc.spec.name));
      } else if (d.doc.kind === 'Song') {
        hasSongs = true;
        songs.add(songId(d.doc.doc.spec.artist, d.doc.doc.spec.title));
      }
    }
  }
  const problems: Problem[] = [];
  for (const f of files) {
    for (const d of f.documents) {
      const at = (path: string, message: string) => problems.push(problemAt(f.file, d.index, d.positions, path, message));
      const artistRef = (name: string, path: string) => {
        if (hasArtists && !artists.has(normalise(name))) at(path, `artist "${name}" is not in these files (no Artist document with that spec.name): fine if it is ingested already or comes in a later file, else check the spelling`);
      };
      if (d.doc.kind === 'Song') {
        const flat = d.doc.format === 'FLAT_LEGACY';
        artistRef(d.doc.doc.spec.artist, flat ? 'singer' : 'spec.artist');
        d.doc.doc.spec.featuring.forEach((n, i) => artistRef(n, flat ? `collaborated_artists.${i}.artist` : `spec.featuring.${i}`));
      } else if (d.doc.kind === 'Meetup') {
        const s = d.doc.doc.spec;
        artistRef(s.host, 'spec.host');
        s.performers.forEach((n, i) => artistRef(n, `spec.performers.${i}`));
        s.setlist.forEach((e, i) => {
          if (hasSongs && !songs.has(songId(e.artist, e.title))) at(`spec.setlist.${i}`, `song "${e.title}" by "${e.artist}" is not in these files: fine if it is ingested already or comes in a later file, else check the spelling`);
        });
      }
    }
  }
  const notes: string[] = [];
  if (!hasArtists) notes.push('artist references not checked: no Artist documents in this set');
  if (!hasSongs) notes.push('setlist references not checked: no Song documents in this set');
  return { problems, notes };
}

/** `file:line:column: document N, path: message`, the shape editors and CI annotations understand. */
export function formatProblem(p: Problem): string {
  const where = p.document > 0 ? `document ${p.document}${p.path ? `, ${p.path}` : ''}: ` : '';
  return `${p.file}:${p.line}:${p.column}: ${where}${p.message}`;
}
