// Local files and folders as an ObjectSource (what `rapflow validate data/` reads).
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { RapflowError } from '../errors.js';
import { RAP_FILE, type ObjectRef, type ObjectSource } from './types.js';

export class LocalSource implements ObjectSource {
  constructor(private readonly path: string) {}

  async *list(): AsyncIterable<ObjectRef> {
    let info;
    try {
      info = await stat(this.path);
    } catch (err) {
      throw new RapflowError('CONFIG_INVALID', `${this.path}: no such file or folder`, { cause: err, context: { file: this.path } });
    }
    if (info.isFile()) {
      yield { uri: this.path, key: this.path, size: info.size };
      return;
    }
    for (const file of await walk(this.path)) {
      yield { uri: file, key: file, size: (await stat(file)).size };
    }
  }

  read(ref: ObjectRef): Promise<Uint8Array> {
    return readFile(ref.key);
  }
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else if (entry.isFile() && RAP_FILE.test(entry.name)) out.push(full);
  }
  return out;
}
