// Rap-as-Code documents to Avro records (pure): one Song, its LyricLines, Artists and Meetups.
import { artistId, lineId, meetupId, songId } from './ids.js';
import type { ArtistDoc, MeetupDoc, RapDocument, SongDoc } from './documents.js';

export interface SongRecord {
  id: string;
  slug: string;
  title: string;
  artistId: string;
  artist: string;
  featuring: string[];
  album: string | null;
  releaseDate: string;
  language: string;
  tags: string[];
  sections: { index: number; kind: string; performer: string; firstLine: number; lineCount: number }[];
  lineCount: number;
  bpm: number | null;
  sourceFormat: 'RAP_AS_CODE_V1' | 'FLAT_LEGACY';
}

export interface LyricLineRecord {
  id: string;
  songId: string;
  lineNumber: number;
  sectionIndex: number;
  section: string;
  performer: string;
  text: string;
}

export interface ArtistRecord {
  id: string;
  slug: string;
  name: string;
  realName: string | null;
  origin: string | null;
  genres: string[];
  activeSince: number | null;
  bio: string | null;
}

export interface MeetupRecord {
  id: string;
  slug: string;
  title: string;
  date: string;
  venue: string;
  city: string;
  country: string | null;
  hostId: string;
  host: string;
  performers: string[];
  setlist: { position: number; songId: string; artist: string; title: string }[];
}

export interface RecordSet {
  songs: SongRecord[];
  lines: LyricLineRecord[];
  artists: ArtistRecord[];
  meetups: MeetupRecord[];
}

export const emptyRecordSet = (): RecordSet => ({ songs: [], lines: [], artists: [], meetups: [] });

export function songRecords(doc: SongDoc, format: SongRecord['sourceFormat']): { song: SongRecord; lines: LyricLineRecord[] } {
  const s = doc.spec;
  const id = songId(s.artist, s.title);
  const lines: LyricLineRecord[] = [];
  const sections: SongRecord['sections'] = [];
  s.lyrics.forEach((section, index) => {
    const performer = section.by ?? s.artist;
    const kind = section.section.toUpperCase();
    sections.push({ index, kind, performer, firstLine: lines.length + 1, lineCount: section.lines.length });
    for (const text of section.lines) {
      const lineNumber = lines.length + 1;
      lines.push({ id: lineId(id, lineNumber), songId: id, lineNumber, sectionIndex: index, section: kind, performer, text });
    }
  });
  const song: SongRecord = {
    id,
    slug: doc.metadata.name,
    title: s.title,
    artistId: artistId(s.artist),
    artist: s.artist,
    featuring: s.featuring,
    album: s.album ?? null,
    releaseDate: s.releaseDate,
    language: s.language,
    tags: s.tags,
    sections,
    lineCount: lines.length,
    bpm: s.bpm ?? null,
    sourceFormat: format,
  };
  return { song, lines };
}

export function artistRecord(doc: ArtistDoc): ArtistRecord {
  const s = doc.spec;
  return {
    id: artistId(s.name),
    slug: doc.metadata.name,
    name: s.name,
    realName: s.realName ?? null,
    origin: s.origin ?? null,
    genres: s.genres,
    activeSince: s.activeSince ?? null,
    bio: s.bio ?? null,
  };
}

export function meetupRecord(doc: MeetupDoc): MeetupRecord {
  const s = doc.spec;
  return {
    id: meetupId(s.date, s.title),
    slug: doc.metadata.name,
    title: s.title,
    date: s.date,
    venue: s.place.venue,
    city: s.place.city,
    country: s.place.country ?? null,
    hostId: artistId(s.host),
    host: s.host,
    performers: s.performers,
    setlist: s.setlist.map((e, i) => ({ position: i + 1, songId: songId(e.artist, e.title), artist: e.artist, title: e.title })),
  };
}

/** All records of a file's documents, in document order. */
export function toRecords(docs: RapDocument[]): RecordSet {
  const out = emptyRecordSet();
  for (const d of docs) {
    if (d.kind === 'Song') {
      const { song, lines } = songRecords(d.doc, d.format);
      out.songs.push(song);
      out.lines.push(...lines);
    } else if (d.kind === 'Artist') out.artists.push(artistRecord(d.doc));
    else out.meetups.push(meetupRecord(d.doc));
  }
  return out;
}
