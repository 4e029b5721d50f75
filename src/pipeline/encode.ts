// The CPU half of split, pure: bytes of a file -> validated, framed Avro records (or the file's problems).
import type avro from 'avsc';
import { frame } from '../codec/confluent.js';
import { topicOf, type RecordName } from '../codec/schemas.js';
import { RapflowError } from '../errors.js';
import { recordsOf, validateFile, type ModelTypes, type Problem } from '../model/validate.js';
import { DEFAULT_YAML_LIMITS, type YamlLimits } from '../model/yaml.js';
import { partitionFor } from '../transport/partition.js';

/** Registry ids (and versions) of the schemas this run encodes with, registered or looked up once. */
export type SchemaIds = Map<RecordName, { id: number; version: number }>;

export interface EncodeSettings {
  ids: SchemaIds;
  topicPrefix: string;
  limits: YamlLimits;
  /** Partitions per topic: when given, each record's partition is chosen here, off the producing thread. */
  partitions?: Record<string, number>;
}

export interface EncodeInput {
  uri: string;
  bytes: Uint8Array;
}

/** Records of one file, in produce order: artists, songs, lyric lines, meetups. */
export interface EncodedFile {
  ok: true;
  topics: string[];
  keys: string[];
  values: Buffer[];
  schemaIds: number[];
  schemaVersions: number[];
  /** Partition per record, or empty when the producer is to choose. */
  partitions: number[];
}

export type EncodeResult = EncodedFile | { ok: false; problems: Problem[] };

const ORDER: [RecordName, keyof ReturnType<typeof recordsOf>][] = [
  ['Artist', 'artists'],
  ['Song', 'songs'],
  ['LyricLine', 'lines'],
  ['Meetup', 'meetups'],
];

export function encodeFile(input: EncodeInput, types: ModelTypes, settings: EncodeSettings): EncodeResult {
  const limits = settings.limits ?? DEFAULT_YAML_LIMITS;
  // Encoding checks the Avro model anyway; only when it refuses do we look for the field to blame.
  const validated = validateFile(input.uri, input.bytes, types, { limits, modelCheck: false });
  if (validated.problems.length > 0) return { ok: false, problems: validated.problems };
  const set = recordsOf(validated);
  const out: EncodedFile = { ok: true, topics: [], keys: [], values: [], schemaIds: [], schemaVersions: [], partitions: [] };
  try {
    for (const [name, field] of ORDER) {
      const type: avro.Type | undefined = types.get(name);
      const schema = settings.ids.get(name);
      if (!type || !schema) throw new RapflowError('INTERNAL', `no schema id for ${name}: register the schemas first`);
      const topic = topicOf(name, settings.topicPrefix);
      const n = settings.partitions?.[topic];
      for (const record of set[field] as { id: string }[]) {
        if (n !== undefined) out.partitions.push(partitionFor(record.id, n));
        out.topics.push(topic);
        out.keys.push(record.id);
        out.values.push(frame(type, schema.id, record));
        out.schemaIds.push(schema.id);
        out.schemaVersions.push(schema.version);
      }
    }
  } catch (err) {
    if (err instanceof RapflowError) throw err;
    const problems = validateFile(input.uri, input.bytes, types, { limits }).problems;
    if (problems.length === 0) throw new RapflowError('INTERNAL', `${input.uri}: valid by the model, yet Avro encoding failed`, { cause: err });
    return { ok: false, problems };
  }
  return out;
}
