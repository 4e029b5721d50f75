// Confluent wire format: magic byte 0, the schema id (4 bytes, big-endian), then the Avro binary.
import type avro from 'avsc';
import { RapflowError } from '../errors.js';

export const MAGIC = 0;

/** Encodes with a schema we hold and registered under `id` (the registry's copy is the same schema). */
export function frame(type: avro.Type, id: number, record: unknown): Buffer {
  const body = type.toBuffer(record);
  const out = Buffer.allocUnsafe(5 + body.length);
  out.writeUInt8(MAGIC, 0);
  out.writeInt32BE(id, 1);
  body.copy(out, 5);
  return out;
}

/** The schema id of a framed value; RECORD_UNDECODABLE when the bytes are not Confluent-framed. */
export function schemaIdOf(value: Buffer | null): number {
  if (!value || value.length < 5 || value.readUInt8(0) !== MAGIC) {
    throw new RapflowError('RECORD_UNDECODABLE', `value is not in Confluent wire format (${value ? `${value.length} bytes, first byte ${value[0]}` : 'no value'})`);
  }
  return value.readInt32BE(1);
}
