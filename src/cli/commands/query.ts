// `rapflow query ...`: the data back, by the questions the tables were designed for (docs/data-design.md).
import type { Command } from 'commander';
import { RapflowError } from '../../errors.js';
import { artistId, normalise, songId } from '../../model/ids.js';
import { everyRow, type Page, type PageRequest, type RapReader, type SongRow } from '../../read/reader.js';
import { normaliseWord, wordsOf } from '../../read/words.js';
import { readerOf, stargateOf } from '../adapters.js';
import { StargateReader } from '../../store/stargate/reader.js';
import { COLLECTIONS } from '../../store/stargate/schema.js';
import type { CliContext } from '../context.js';
import { formatTable } from '../format.js';
import { wholeNumber } from '../options.js';

interface Output {
  json?: boolean;
}


/** Reads up to `limit` rows from `page`, page after page; returns them and where to go on from. */
export async function upTo<T>(read: (p: PageRequest) => Promise<Page<T>>, limit: number, pageSize: number, from?: string): Promise<Page<T>> {
  const rows: T[] = [];
  let state = from;
  do {
    const page = await read({ size: Math.min(pageSize, limit - rows.length), ...(state ? { state } : {}) });
    rows.push(...page.rows);
    state = page.next;
  } while (state && rows.length < limit);
  return { rows, ...(state ? { next: state } : {}) };
}

async function withReader<T>(ctx: CliContext, fn: (r: RapReader) => Promise<T>): Promise<T> {
  const reader = await readerOf(ctx.config);
  try {
    return await fn(reader);
  } finally {
    await reader.close();
  }
}

/** An artist by name: ids are derived from names, so the lookup is exact; a miss lists near names. */
async function findArtist(reader: RapReader, name: string) {
  const found = await reader.artist(artistId(name));
  if (found) return found;
  const wanted = normalise(name);
  const known: string[] = [];
  for await (const a of everyRow((p) => reader.artists(p))) known.push(a.name);
  const near = known.filter((k) => normalise(k).includes(wanted) || wanted.includes(normalise(k)));
  throw new RapflowError('CONFIG_INVALID', `no artist named "${name}"${near.length ? `; did you mean ${near.map((n) => `"${n}"`).join(', ')}?` : ` (${known.length} artists known: \`rapflow query artists\`)`}`);
}

export function registerQuery(program: Command, ctx: CliContext): void {
  const query = program.command('query').description('read the data back: songs by artist, a song with its lyrics, lines containing a word, a meetup setlist');
  const out = (o: Output, json: unknown, text: () => string) => ctx.out(o.json ? JSON.stringify(json, null, 2) : text());

  query
    .command('artists')
    .description('every artist')
    .option('--json', 'JSON output')
    .action(async (o: Output) => {
      const artists = await withReader(ctx, async (r) => {
        const all = [];
        for await (const a of everyRow((p) => r.artists(p))) all.push(a);
        return all.sort((a, b) => a.name.localeCompare(b.name));
      });
      out(o, artists, () => formatTable(['ARTIST', 'ORIGIN', 'SINCE', 'GENRES'], artists.map((a) => [a.name, a.origin ?? '', String(a.activeSince ?? ''), a.genres.join(', ')])));
    });

  query
    .command('songs')
    .description("an artist's songs, newest first")
    .requiredOption('--artist <name>', 'the artist, as named in the Rap-as-Code files')
    .option('--limit <n>', 'at most this many songs', '50')
    .option('--page-size <n>', 'rows per request', '20')
    .option('--page <token>', 'go on from where an earlier call stopped')
    .option('--json', 'JSON output')
    .action(async (o: Output & { artist: string; limit: string; pageSize: string; page?: string }) => {
      const [limit, pageSize] = [wholeNumber(o.limit, '--limit', 1), wholeNumber(o.pageSize, '--page-size', 1)];
      const page = await withReader(ctx, async (r) => {
        const artist = await findArtist(r, o.artist);
        return upTo((p) => r.songsByArtist(artist.id, p), limit, pageSize, o.page);
      });
      out(o, page, () => {
        const table = formatTable(['RELEASED', 'TITLE', 'ALBUM', 'ID'], page.rows.map((s) => [s.releaseDate, s.title, s.album ?? '', s.songId]));
        return page.next ? `${table}\nmore: --page ${page.next}` : table;
      });
    });

  query
    .command('song')
    .description('one song with its lyrics, in order')
    .option('--artist <name>', 'the artist (with --title)')
    .option('--title <title>', 'the title (with --artist)')
    .option('--id <uuid>', 'or the song id')
    .option('--document', "the song's document, whole, from Stargate's Document API (where SINK=stargate wrote it), as JSON")
    .option('--json', 'JSON output')
    .action(async (o: Output & { artist?: string; title?: string; id?: string; document?: boolean }) => {
      if (!o.id && !(o.artist && o.title)) throw new RapflowError('CONFIG_INVALID', 'name the song: --artist and --title, or --id');
      const id = o.id ?? songId(o.artist!, o.title!);
      if (o.document) {
        const docs = new StargateReader(stargateOf(ctx.config), ctx.config.cassandra.keyspace);
        const doc = await docs.document('Song', id).finally(() => docs.close());
        if (!doc) throw new RapflowError('CONFIG_INVALID', `no document for song ${o.id ? `id ${o.id}` : `"${o.title}" by "${o.artist}"`} in collection ${COLLECTIONS.Song} (written only when consume runs with SINK=stargate)`);
        ctx.out(JSON.stringify(doc, null, 2));
        return;
      }
      const { song, lines } = await withReader(ctx, async (r) => ({ song: await r.song(id), lines: await r.lines(id) }));
      if (!song) throw new RapflowError('CONFIG_INVALID', `no song ${o.id ? `with id ${o.id}` : `"${o.title}" by "${o.artist}"`} (\`rapflow query songs --artist ...\` lists them)`);
      out(o, { ...song, lines }, () => {
        const head = [`${song.title} - ${song.artist}${song.featuring.length ? ` feat. ${song.featuring.join(', ')}` : ''}`, `${song.releaseDate}${song.album ? `, ${song.album}` : ''}, ${song.lineCount} lines`];
        const body: string[] = [];
        let section = -1;
        for (const l of lines) {
          if (l.sectionIndex !== section) {
            section = l.sectionIndex;
            body.push('', `[${l.section}${l.performer && l.performer !== song.artist ? `: ${l.performer}` : ''}]`);
          }
          body.push(l.text);
        }
        return [...head, ...body].join('\n');
      });
    });

  query
    .command('lines')
    .description('lyric lines containing a word (whole words, any case, any script)')
    .requiredOption('--word <word>', 'the word')
    .option('--artist <name>', "only this artist's songs (reads their partitions, not the whole table)")
    .option('--limit <n>', 'at most this many lines', '50')
    .option('--json', 'JSON output')
    .action(async (o: Output & { word: string; artist?: string; limit: string }) => {
      const word = normaliseWord(o.word.trim());
      if (wordsOf(word).length !== 1) throw new RapflowError('CONFIG_INVALID', `--word ${JSON.stringify(o.word)}: expected one word`);
      const limit = wholeNumber(o.limit, '--limit', 1);
      const hits = await withReader(ctx, async (r) => {
        const songs = new Map<string, SongRow | undefined>();
        const title = async (id: string) => {
          if (!songs.has(id)) songs.set(id, await r.song(id));
          return songs.get(id);
        };
        const found: { artist: string; title: string; lineNumber: number; text: string; songId: string }[] = [];
        const consider = async (l: { songId: string; lineNumber: number; text: string }) => {
          if (found.length >= limit || !wordsOf(l.text).includes(word)) return;
          const s = await title(l.songId);
          found.push({ artist: s?.artist ?? '?', title: s?.title ?? '?', lineNumber: l.lineNumber, text: l.text, songId: l.songId });
        };
        if (o.artist) {
          const artist = await findArtist(r, o.artist);
          for await (const s of everyRow((p) => r.songsByArtist(artist.id, p))) {
            for (const l of await r.lines(s.songId)) await consider(l);
            if (found.length >= limit) break;
          }
        } else {
          for await (const l of everyRow((p) => r.allLines(p), 1000)) {
            await consider(l);
            if (found.length >= limit) break;
          }
        }
        return found;
      });
      out(o, hits, () => (hits.length === 0 ? `no line contains "${o.word}"` : formatTable(['ARTIST', 'SONG', 'LINE', 'TEXT'], hits.map((h) => [h.artist, h.title, String(h.lineNumber), h.text]))));
    });

  query
    .command('setlist')
    .description("a meetup's setlist, in order")
    .requiredOption('--meetup <title>', 'the meetup title or slug')
    .option('--json', 'JSON output')
    .action(async (o: Output & { meetup: string }) => {
      const result = await withReader(ctx, async (r) => {
        const wanted = normalise(o.meetup);
        const all = [];
        for await (const m of everyRow((p) => r.meetups(p))) all.push(m);
        const meetup = all.find((m) => normalise(m.title) === wanted || m.slug === o.meetup);
        if (!meetup) throw new RapflowError('CONFIG_INVALID', `no meetup "${o.meetup}"; known: ${all.map((m) => `"${m.title}"`).join(', ')}`);
        const known = await r.existing('songs', meetup.setlist.map((e) => e.songId));
        return { meetup, setlist: meetup.setlist.map((e) => ({ ...e, inCatalogue: known.has(e.songId) })) };
      });
      out(o, result, () => {
        const m = result.meetup;
        const head = `${m.title}: ${m.date}, ${m.venue}, ${m.city}${m.country ? `, ${m.country}` : ''} (host ${m.host})`;
        const rows = result.setlist.map((e) => [String(e.position), e.artist, e.title, e.inCatalogue ? '' : 'not in the catalogue']);
        return `${head}\n${formatTable(['#', 'ARTIST', 'SONG', 'NOTE'], rows)}`;
      });
    });
}
