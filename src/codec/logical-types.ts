// Avro logical types as rapflow's records use them: dates as ISO "YYYY-MM-DD" strings, timestamps as Date, uuids checked.
import avro from 'avsc';

const DAY_MS = 86_400_000;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Days since 1970-01-01 for a real calendar date, else undefined (2024-02-30 is not a date). */
export function isoDateToDays(iso: string): number | undefined {
  const m = ISO_DATE.exec(iso);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined;
  return ms / DAY_MS;
}

export function daysToIsoDate(days: number): string {
  return new Date(days * DAY_MS).toISOString().slice(0, 10);
}

class DateType extends avro.types.LogicalType {
  override _fromValue(val: number): string {
    return daysToIsoDate(val);
  }
  override _toValue(val: unknown): number | undefined {
    return typeof val === 'string' ? isoDateToDays(val) : undefined;
  }
  override _resolve(type: avro.Type) {
    if (avro.Type.isType(type, 'int', 'logical:date')) return (v: number | string) => (typeof v === 'number' ? daysToIsoDate(v) : v);
    return undefined;
  }
}

class TimestampMillisType extends avro.types.LogicalType {
  override _fromValue(val: number): Date {
    return new Date(val);
  }
  override _toValue(val: unknown): number | undefined {
    return val instanceof Date && !Number.isNaN(val.getTime()) ? val.getTime() : undefined;
  }
  override _resolve(type: avro.Type) {
    if (avro.Type.isType(type, 'long', 'logical:timestamp-millis')) return (v: number | Date) => (typeof v === 'number' ? new Date(v) : v);
    return undefined;
  }
}

class UuidType extends avro.types.LogicalType {
  override _fromValue(val: string): string {
    return val;
  }
  override _toValue(val: unknown): string | undefined {
    return typeof val === 'string' && UUID.test(val) ? val : undefined;
  }
  override _resolve(type: avro.Type) {
    if (avro.Type.isType(type, 'string', 'logical:uuid')) return (v: string) => v;
    return undefined;
  }
}

/** Pass as avsc's `logicalTypes` option wherever a schema is parsed (ours or the registry's). */
export const LOGICAL_TYPES = {
  date: DateType,
  'timestamp-millis': TimestampMillisType,
  uuid: UuidType,
} as const;
