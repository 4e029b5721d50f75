// Table rows to the shapes rapflow reads (reader.ts): one mapping for CQL rows and Stargate's JSON alike,
// since both carry the CQL column names and print uuids and dates as their CQL text.
import type { ArtistRow, LineRow, MeetupRow, SongByArtistRow, SongRow } from '../read/reader.js';

export type RowLike = Record<string, unknown>;

// Driver values (Uuid, LocalDate, strings, numbers) all print as their CQL text form.
export const str = (v: unknown): string => (v === null || v === undefined ? '' : (v as { toString(): string }).toString());
const optStr = (v: unknown): string | null => (v === null || v === undefined ? null : str(v));
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const json = <T>(v: unknown, fallback: T): T => (typeof v === 'string' && v !== '' ? (JSON.parse(v) as T) : fallback);

export const songOf = (r: RowLike): SongRow => ({
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

export const lineOf = (r: RowLike): LineRow => ({
  songId: str(r.song_id),
  lineNumber: Number(r.line_number),
  id: str(r.id),
  sectionIndex: Number(r.section_index),
  section: str(r.section),
  performer: str(r.performer),
  text: str(r.text),
});

export const artistOf = (r: RowLike): ArtistRow => ({
  id: str(r.id),
  slug: str(r.slug),
  name: str(r.name),
  realName: optStr(r.real_name),
  origin: optStr(r.origin),
  genres: list(r.genres),
  activeSince: r.active_since === null || r.active_since === undefined ? null : Number(r.active_since),
  bio: optStr(r.bio),
});

export const meetupOf = (r: RowLike): MeetupRow => ({
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

export const byArtistOf = (r: RowLike): SongByArtistRow => ({
  artistId: str(r.artist_id),
  releaseDate: str(r.release_date),
  songId: str(r.song_id),
  title: str(r.title),
  album: optStr(r.album),
});

