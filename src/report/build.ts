// The report's numbers (pure): data quality and insights from the rows, the run's manifests, quarantine and dead letters.
import type { Manifest } from '../pipeline/split.js';
import type { VerifyReport } from '../pipeline/verify.js';
import type { ArtistRow, LineRow, MeetupRow, SongRow } from '../read/reader.js';
import { stopWordsOf, wordsOf } from '../read/words.js';

export interface QuarantineEntry {
  file: string;
  runId: string;
  quarantinedAt: string;
  problems: { message: string; line?: number; column?: number; document?: number; path?: string }[];
}

export interface DeadLetterEntry {
  topic: string;
  key: string;
  code: string;
  reason: string;
  source: string;
}

export interface ReportInput {
  generatedAt: string;
  manifests: Manifest[];
  verify?: VerifyReport;
  artists: ArtistRow[];
  songs: SongRow[];
  /** Lines are consumed as a stream: the report keeps counts, not the lines. */
  lineStats: LineStats;
  meetups: MeetupRow[];
  quarantine: QuarantineEntry[];
  deadLetters: DeadLetterEntry[];
  /** Lyrics shown in full, for a bounded number of songs. */
  lyrics: { song: SongRow; lines: LineRow[] }[];
}

/** Counters filled line by line, so a large table is read in bounded memory. */
export class LineStats {
  lines = 0;
  words = 0;
  readonly bySong = new Map<string, { lines: number; words: number; unique: Set<string> }>();
  readonly wordCounts = new Map<string, number>();
  readonly sectionLines = new Map<string, number>();

  /** `languageOf` gives a line's song's language, whose stop words the word counts leave out. */
  constructor(private readonly languageOf: (songId: string) => string | undefined = () => undefined) {}

  add(l: LineRow): void {
    const words = wordsOf(l.text);
    const stop = stopWordsOf(this.languageOf(l.songId) ?? 'en');
    this.lines++;
    this.words += words.length;
    const s = this.bySong.get(l.songId) ?? { lines: 0, words: 0, unique: new Set<string>() };
    s.lines++;
    s.words += words.length;
    for (const w of words) {
      s.unique.add(w);
      if (!stop.has(w) && w.length > 1) this.wordCounts.set(w, (this.wordCounts.get(w) ?? 0) + 1);
    }
    this.bySong.set(l.songId, s);
    const kind = l.section.toLowerCase();
    this.sectionLines.set(kind, (this.sectionLines.get(kind) ?? 0) + 1);
  }
}

export interface ReportData {
  generatedAt: string;
  runs: { runId: string; startedAt: string; finishedAt?: string; files: number; stoppedBy?: string }[];
  counts: {
    files: Record<string, number>;
    recordsProduced: Record<string, number>;
    rows: { artists: number; songs: number; lyricLines: number; meetups: number; words: number };
    quarantined: number;
    deadLettered: number;
  };
  verify?: { ok: boolean; files: number; mismatched: { file: string; differences: string[] }[]; totals: VerifyReport['totals'] };
  quarantine: QuarantineEntry[];
  deadLetters: { byCode: { code: string; count: number }[]; records: DeadLetterEntry[] };
  artists: { name: string; origin: string | null; songs: number; lines: number; words: number; uniqueWords: number }[];
  topWords: { word: string; count: number }[];
  timeline: { year: string; artist: string; songs: number }[];
  releases: { date: string; title: string; artist: string }[];
  structure: {
    sections: { kind: string; sections: number; lines: number }[];
    shapes: { shape: string; songs: number }[];
    hookShare: number;
  };
  languages: { language: string; songs: number }[];
  schemas: { topic: string; id: number; version: number; runs: number }[];
  lyrics: { title: string; artist: string; releaseDate: string; sections: { kind: string; performer: string; lines: string[] }[] }[];
  meetups: { title: string; date: string; city: string; setlist: { artist: string; title: string }[] }[];
}

const sortCount = <T extends { count: number }>(xs: T[]) => xs.sort((a, b) => b.count - a.count);

export function buildReport(input: ReportInput): ReportData {
  const { songs, lineStats: ls } = input;
  const files: Record<string, number> = {};
  const produced: Record<string, number> = {};
  for (const m of input.manifests) {
    for (const f of m.files) files[f.status] = (files[f.status] ?? 0) + 1;
    for (const [t, n] of Object.entries(m.totals)) produced[t] = (produced[t] ?? 0) + n;
  }

  const artists = input.artists
    .map((a) => {
      const own = songs.filter((s) => s.artistId === a.id);
      const unique = new Set<string>();
      let lines = 0;
      let words = 0;
      for (const s of own) {
        const st = ls.bySong.get(s.id);
        if (!st) continue;
        lines += st.lines;
        words += st.words;
        for (const w of st.unique) unique.add(w);
      }
      return { name: a.name, origin: a.origin, songs: own.length, lines, words, uniqueWords: unique.size };
    })
    .sort((a, b) => b.words - a.words || a.name.localeCompare(b.name));

  const timeline = new Map<string, { year: string; artist: string; songs: number }>();
  for (const s of songs) {
    const year = s.releaseDate.slice(0, 4);
    const k = `${year}\n${s.artist}`;
    const e = timeline.get(k) ?? { year, artist: s.artist, songs: 0 };
    e.songs++;
    timeline.set(k, e);
  }

  const sectionCounts = new Map<string, number>();
  const shapes = new Map<string, number>();
  for (const s of songs) {
    for (const sec of s.sections) sectionCounts.set(sec.kind.toLowerCase(), (sectionCounts.get(sec.kind.toLowerCase()) ?? 0) + 1);
    const shape = s.sections.map((x) => x.kind.toLowerCase()).join(' ');
    shapes.set(shape, (shapes.get(shape) ?? 0) + 1);
  }
  const hookLines = (ls.sectionLines.get('hook') ?? 0) + (ls.sectionLines.get('chorus') ?? 0);

  const languages = new Map<string, number>();
  for (const s of songs) languages.set(s.language || '?', (languages.get(s.language || '?') ?? 0) + 1);

  const schemas = new Map<string, { topic: string; id: number; version: number; runs: number }>();
  for (const m of input.manifests) {
    for (const [topic, v] of Object.entries(m.schemas ?? {})) {
      const k = `${topic}\n${v.id}`;
      const e = schemas.get(k) ?? { topic, id: v.id, version: v.version, runs: 0 };
      e.runs++;
      schemas.set(k, e);
    }
  }

  const byCode = new Map<string, number>();
  for (const d of input.deadLetters) byCode.set(d.code, (byCode.get(d.code) ?? 0) + 1);

  const v = input.verify;
  return {
    generatedAt: input.generatedAt,
    runs: input.manifests.map((m) => ({
      runId: m.runId,
      startedAt: m.startedAt,
      ...(m.finishedAt ? { finishedAt: m.finishedAt } : {}),
      files: m.files.length,
      ...(m.stoppedBy ? { stoppedBy: `${m.stoppedBy.code}: ${m.stoppedBy.message}` } : {}),
    })),
    counts: {
      files,
      recordsProduced: produced,
      rows: { artists: input.artists.length, songs: songs.length, lyricLines: ls.lines, meetups: input.meetups.length, words: ls.words },
      quarantined: input.quarantine.length,
      deadLettered: input.deadLetters.length,
    },
    ...(v
      ? {
          verify: {
            ok: v.ok,
            files: v.files.length,
            mismatched: v.files.filter((f) => f.status === 'mismatch').map((f) => ({ file: `s3://${f.bucket}/${f.key}`, differences: f.differences })),
            totals: v.totals,
          },
        }
      : {}),
    quarantine: input.quarantine,
    deadLetters: { byCode: sortCount([...byCode].map(([code, count]) => ({ code, count }))), records: input.deadLetters.slice(0, 100) },
    artists,
    topWords: sortCount([...ls.wordCounts].map(([word, count]) => ({ word, count })))
      .sort((a, b) => b.count - a.count || a.word.localeCompare(b.word))
      .slice(0, 25),
    timeline: [...timeline.values()].sort((a, b) => a.year.localeCompare(b.year) || a.artist.localeCompare(b.artist)),
    releases: songs
      .map((s) => ({ date: s.releaseDate, title: s.title, artist: s.artist }))
      .sort((a, b) => a.date.localeCompare(b.date) || a.title.localeCompare(b.title)),
    structure: {
      sections: [...sectionCounts].map(([kind, sections]) => ({ kind, sections, lines: ls.sectionLines.get(kind) ?? 0 })).sort((a, b) => b.lines - a.lines),
      shapes: [...shapes]
        .map(([shape, n]) => ({ shape, songs: n }))
        .sort((a, b) => b.songs - a.songs || a.shape.localeCompare(b.shape))
        .slice(0, 8),
      hookShare: ls.lines === 0 ? 0 : hookLines / ls.lines,
    },
    languages: [...languages].map(([language, n]) => ({ language, songs: n })).sort((a, b) => b.songs - a.songs),
    schemas: [...schemas.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.version - b.version),
    lyrics: input.lyrics.map(({ song, lines }) => ({
      title: song.title,
      artist: song.artist,
      releaseDate: song.releaseDate,
      sections: song.sections.map((sec) => ({
        kind: sec.kind.toLowerCase(),
        performer: sec.performer,
        lines: lines.filter((l) => l.sectionIndex === sec.index).map((l) => l.text),
      })),
    })),
    meetups: input.meetups
      .map((m) => ({ title: m.title, date: m.date, city: m.city, setlist: m.setlist.map((e) => ({ artist: e.artist, title: e.title })) }))
      .sort((a, b) => a.date.localeCompare(b.date)),
  };
}
