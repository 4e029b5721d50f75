// Dead-letter replay over its ports, with in-process fakes (pure logic: which letters are replayed,
// what a failure becomes, when a new dead letter is made and when not). Against the real Kafka,
// registry and Cassandra, interrupted and run again: test/integration/dlq.test.ts.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RapflowError } from '../../src/errors.js';
import type { Decoded, InMessage } from '../../src/pipeline/consume.js';
import { letterOf, listLetters, REPLAY_OF_HEADER, replayLetters, type DeadLetterRecord, type ReplayDeps, type ReplayEntry, type ReplayLedger } from '../../src/pipeline/dlq.js';
import type { InMessageLike } from '../../src/transport/types.js';

const DLQ = 'p.rap.dlq';
let nextOffset = 0;

/** A dead letter on the topic as the consumer makes it: the original's headers plus rapflow.dlq.*. */
function letter(value: string, reason: string, extra: Record<string, string> = {}): DeadLetterRecord {
  const sourceOffset = nextOffset++;
  const m: InMessageLike = {
    topic: DLQ,
    partition: 0,
    offset: String(sourceOffset),
    key: Buffer.from(`k-${value}`),
    value: Buffer.alloc(0),
    headers: { 'rapflow.source.bucket': 'b', 'rapflow.source.key': 'incoming/f.yaml', 'rapflow.dlq.code': 'RECORD_UNDECODABLE', 'rapflow.dlq.reason': reason, ...extra },
  };
  return letterOf(m, {
    sourceTopic: 'p.rap.lyrics',
    sourcePartition: 1,
    sourceOffset,
    key: m.key,
    value: Buffer.from(value),
    errorCode: 'RECORD_UNDECODABLE',
    reason,
    failedAt: new Date(0),
    consumerGroup: 'g',
  });
}

class MemoryLedger implements ReplayLedger {
  readonly rows = new Map<string, ReplayEntry>();
  outcomes() {
    return Promise.resolve(new Map(this.rows));
  }
  record(_topic: string, entries: ReplayEntry[]) {
    for (const e of entries) this.rows.set(e.at, e);
    return Promise.resolve();
  }
}

/** decode fails as the value says: `old` for the reason the letters were made with, `new` for another, `header` for the same again. */
function deps(ledger: ReplayLedger) {
  const sent: { m: InMessage; error: RapflowError; headers: Record<string, string> }[] = [];
  const written: Decoded[] = [];
  const d: ReplayDeps = {
    decode: (m) => {
      const v = m.value!.toString();
      if (v.startsWith('still')) return Promise.reject(new RapflowError('RECORD_UNDECODABLE', 'header rapflow.source.last-modified is "yesterday"'));
      if (v.startsWith('other')) return Promise.reject(new RapflowError('RECORD_UNDECODABLE', 'cannot read "int" as "string"'));
      return Promise.resolve({ name: 'LyricLine', record: { id: v } });
    },
    sink: {
      write: (records) => {
        written.push(...records);
        return Promise.resolve([]);
      },
    },
    deadLetter: (m, error, headers) => {
      sent.push({ m, error, headers });
      return Promise.resolve();
    },
    ledger,
    log: pino({ level: 'silent' }),
    retry: { attempts: 2, initialDelayMs: 0, maxDelayMs: 0 },
    batchSize: 2,
  };
  return { d, sent, written };
}

const OLD = 'no matching field for default-less io.dok.rap.LyricLine.mood';

describe('dlq replay', () => {
  it('writes what now decodes, leaves what fails for its own reason, and makes one new dead letter for a new reason', async () => {
    const letters = [letter('a', OLD), letter('still', 'header rapflow.source.last-modified is "yesterday"'), letter('b', OLD), letter('other', OLD)];
    const ledger = new MemoryLedger();
    const { d, sent, written } = deps(ledger);
    const t = await replayLetters(DLQ, letters, d);
    expect(t).toEqual({ letters: 4, skipped: 0, replayed: 4, written: 2, failing: 1, deadLettered: 1 });
    expect(written.map((r) => r.record.id)).toEqual(['a', 'b']);
    // The original record goes out again: its topic and position, its headers without rapflow.dlq.*.
    expect(sent).toHaveLength(1);
    expect(sent[0]!.m).toMatchObject({ topic: 'p.rap.lyrics', partition: 1, offset: letters[3]!.original.offset });
    expect(Object.keys(sent[0]!.m.headers).filter((h) => h.startsWith('rapflow.dlq.'))).toEqual([]);
    expect(sent[0]!.headers).toEqual({ [REPLAY_OF_HEADER]: letters[3]!.at });
    expect(sent[0]!.error.message).toBe('cannot read "int" as "string"');
    expect([...ledger.rows.values()].map((e) => [e.at, e.outcome])).toEqual([
      [letters[0]!.at, 'written'],
      [letters[1]!.at, 'failing'],
      [letters[2]!.at, 'written'],
      [letters[3]!.at, 'superseded'],
    ]);
  });

  it('run again, replays only what still waits, and makes no dead letter it made before', async () => {
    const letters = [letter('a', OLD), letter('still', 'header rapflow.source.last-modified is "yesterday"'), letter('other', OLD)];
    const ledger = new MemoryLedger();
    await replayLetters(DLQ, letters, deps(ledger).d);
    // The new dead letter the first replay made is on the topic now; the second replay reads it too.
    const made = letter('other', 'cannot read "int" as "string"', { [REPLAY_OF_HEADER]: letters[2]!.at });
    const again = deps(ledger);
    const t = await replayLetters(DLQ, [...letters, made], again.d);
    expect(t).toEqual({ letters: 4, skipped: 2, replayed: 2, written: 0, failing: 2, deadLettered: 0 });
    expect(again.sent).toEqual([]);
    expect(again.written).toEqual([]);
  });

  it('interrupted after making a new dead letter and before recording it, does not make it twice', async () => {
    const letters = [letter('other', OLD)];
    // What the topic holds after the interrupted run: the letter and its replay; the ledger has nothing.
    const made = letter('other', 'cannot read "int" as "string"', { [REPLAY_OF_HEADER]: letters[0]!.at });
    const ledger = new MemoryLedger();
    const { d, sent } = deps(ledger);
    const t = await replayLetters(DLQ, [...letters, made], d);
    expect(sent).toEqual([]);
    expect(t).toMatchObject({ replayed: 2, failing: 1, deadLettered: 1 });
    expect(ledger.rows.get(letters[0]!.at)?.outcome).toBe('superseded');
    expect(ledger.rows.get(made.at)?.outcome).toBe('failing');
  });

  it('records each batch before the next, so a failure part way keeps what was done', async () => {
    const letters = [letter('a', OLD), letter('b', OLD), letter('c', OLD)];
    const ledger = new MemoryLedger();
    const { d } = deps(ledger);
    let calls = 0;
    d.sink = { write: () => (++calls === 2 ? Promise.reject(new RapflowError('CONFIG_INVALID', 'table lyric_lines missing')) : Promise.resolve([])) };
    await expect(replayLetters(DLQ, letters, d)).rejects.toThrow('table lyric_lines missing');
    expect([...ledger.rows.keys()]).toEqual([letters[0]!.at, letters[1]!.at]);
  });

  it('lists what waits, grouped by topic, code and reason, and counts what replays did with the rest', () => {
    const letters = [letter('a', OLD), letter('b', OLD), letter('still', 'bad header'), letter('c', OLD)];
    const outcomes = new Map<string, ReplayEntry>([
      [letters[0]!.at, { at: letters[0]!.at, outcome: 'written', code: '', reason: '', replayedAt: new Date() }],
      [letters[2]!.at, { at: letters[2]!.at, outcome: 'failing', code: 'RECORD_UNDECODABLE', reason: 'bad header', replayedAt: new Date() }],
      [letters[3]!.at, { at: letters[3]!.at, outcome: 'superseded', code: 'RECORD_UNDECODABLE', reason: 'other', replayedAt: new Date() }],
    ]);
    const l = listLetters(letters, outcomes, [{ at: `${DLQ}[0]@99`, problem: 'not Avro' }]);
    expect(l.byState).toEqual({ waiting: 2, written: 1, superseded: 1 });
    expect(l.waiting.map((g) => [g.count, g.reason, g.files])).toEqual([
      [1, 'bad header', ['s3://b/incoming/f.yaml']],
      [1, OLD, ['s3://b/incoming/f.yaml']],
    ]);
    expect(l.waiting[1]!.examples).toEqual([`p.rap.lyrics[1]@${letters[1]!.original.offset}`]);
    expect(l.unreadable).toHaveLength(1);
  });
});
