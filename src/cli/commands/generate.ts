// `rapflow generate`: a deterministic Rap-as-Code corpus for benchmarks and load tests.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { generateCorpus } from '../../model/generate.js';
import type { CliContext } from '../context.js';
import { count } from '../format.js';
import { wholeNumber } from '../options.js';

const positiveInt = (name: string) => (v: string) => wholeNumber(v, `--${name}`, 1);

export function registerGenerate(program: Command, ctx: CliContext): void {
  program
    .command('generate')
    .description('write a deterministic corpus of valid Rap-as-Code files (same seed, same bytes)')
    .addOption(new Option('--songs <n>', 'songs to generate').argParser(positiveInt('songs')).makeOptionMandatory())
    .addOption(new Option('--seed <n>', 'random seed').argParser(positiveInt('seed')).default(1))
    .addOption(new Option('--lines-per-song <n>', 'lyric lines per song').argParser(positiveInt('lines-per-song')).default(20))
    .addOption(new Option('--songs-per-file <n>', 'songs per file').argParser(positiveInt('songs-per-file')).default(100))
    .requiredOption('--out <dir>', 'folder to write into')
    .action(async (opts: { songs: number; seed: number; linesPerSong: number; songsPerFile: number; out: string }) => {
      await mkdir(opts.out, { recursive: true });
      let files = 0;
      let lines = 0;
      for (const f of generateCorpus(opts)) {
        await writeFile(join(opts.out, f.name), f.content);
        files++;
        lines += f.lines;
      }
      ctx.out(`wrote ${count(files, 'file')} to ${opts.out}: ${count(opts.songs, 'song')}, ${count(lines, 'lyric line')} (seed ${opts.seed})`);
    });
}
