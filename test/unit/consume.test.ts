// processBatch over its ports, with in-process fakes (pure logic: which message a refused record
// belongs to, what is poison and what is retried, what is thrown). Against the real services it is
// test/integration/consume.test.ts and the fault matrix.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RapflowError } from '../../src/errors.js';
import { decodeBatch, processBatch, writeBatch, type ConsumeDeps, type Decoded, type InMessage, type RecordSink } from '../../src/pipeline/consume.js';

const msg = (offset: number, value = `v${offset}`): InMessage => ({ topic: 't', partition: 0, offset: String(offset), key: Buffer.from(`k${offset}`), value: Buffer.from(value), headers: {} });
const NO_WAIT = { attempts: 3, initialDelayMs: 0, maxDelayMs: 0 };

function deps(over: Partial<ConsumeDeps> & { sink?: RecordSink } = {}) {
  const dead: { offset: string; code: string }[] = [];
  const written: Decoded[][] = [];
  const d: ConsumeDeps = {
    decode: (m) => {
      const v = m.value!.toString();
      if (v === 'garbage') return Promise.reject(new RapflowError('RECORD_UNDECODABLE', 'not Avro'));
      return Promise.resolve({ name: 'LyricLine', record: { id: v, text: v } });
    },
    sink: {
      write: (records) => {
        written.push(records);
        return Promise.resolve(records.flatMap((r, index) => (r.record.text === 'refused' ? [{ index, error: new RapflowError('RECORD_UNDECODABLE', 'refused by the database') }] : [])));
      },
    },
    deadLetter: (m, error) => {
      dead.push({ offset: m.offset, code: error.code });
      return Promise.resolve();
    },
    log: pino({ level: 'silent' }),
    heartbeat: () => Promise.resolve(),
    retry: NO_WAIT,
    ...over,
  };
  return { d, dead, written };
}

describe('processBatch', () => {
  it('dead-letters the message a refused record came from, after an undecodable one shifted the indexes', async () => {
    const { d, dead, written } = deps();
    const o = await processBatch([msg(0), msg(1, 'garbage'), msg(2), msg(3, 'refused'), msg(4)], d);
    // The sink saw four records: index 2 of its call is the message at offset 3.
    expect(written[0]!.map((r) => r.record.id)).toEqual(['v0', 'v2', 'refused', 'v4']);
    expect(dead).toEqual([
      { offset: '1', code: 'RECORD_UNDECODABLE' },
      { offset: '3', code: 'RECORD_UNDECODABLE' },
    ]);
    expect(o).toEqual({ records: 5, written: 3, deadLettered: 2, retries: 0 });
  });

  it('retries a sink that is unavailable, the whole batch again, and counts the retries', async () => {
    let calls = 0;
    const { d } = deps({
      sink: {
        write: () => (++calls < 3 ? Promise.reject(new RapflowError('SINK_UNAVAILABLE', 'timed out')) : Promise.resolve([])),
      },
    });
    const o = await processBatch([msg(0), msg(1)], d);
    expect(calls).toBe(3);
    expect(o).toMatchObject({ written: 2, deadLettered: 0, retries: 2 });
  });

  it('throws when the sink stays unavailable, dead-lettering nothing (the batch stays uncommitted)', async () => {
    const { d, dead } = deps({ sink: { write: () => Promise.reject(new RapflowError('SINK_UNAVAILABLE', 'down')) } });
    await expect(processBatch([msg(0), msg(1, 'garbage')], d)).rejects.toMatchObject({ code: 'SINK_UNAVAILABLE' });
    expect(dead).toEqual([]);
  });

  it('a configuration error from the sink is thrown at once: not retried, not dead-lettered', async () => {
    let calls = 0;
    const { d, dead } = deps({
      sink: {
        write: () => {
          calls++;
          return Promise.reject(new RapflowError('CONFIG_INVALID', 'Undefined column name bpm'));
        },
      },
    });
    await expect(processBatch([msg(0)], d)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    expect(calls).toBe(1);
    expect(dead).toEqual([]);
  });

  it('a registry that is away while decoding is retried, never poison', async () => {
    let calls = 0;
    const { d, dead } = deps({
      decode: () => (++calls < 3 ? Promise.reject(new RapflowError('REGISTRY_UNAVAILABLE', 'registry down')) : Promise.resolve({ name: 'LyricLine', record: { id: 'x', text: 'x' } })),
    });
    expect(await processBatch([msg(0)], d)).toMatchObject({ written: 1, deadLettered: 0 });
    expect(dead).toEqual([]);
  });

  it('a broker away while dead-lettering is retried, then thrown as KAFKA_UNAVAILABLE (exit 75), not a bug', async () => {
    let calls = 0;
    const { d } = deps({
      deadLetter: () => (++calls < 3 ? Promise.reject(new RapflowError('KAFKA_UNAVAILABLE', 'broker away')) : Promise.resolve()),
    });
    expect(await processBatch([msg(0, 'garbage')], d)).toMatchObject({ deadLettered: 1 });
    expect(calls).toBe(3);
    const { d: never } = deps({ deadLetter: () => Promise.reject(new RapflowError('KAFKA_UNAVAILABLE', 'broker away')) });
    await expect(processBatch([msg(0, 'garbage')], never)).rejects.toMatchObject({ code: 'KAFKA_UNAVAILABLE' });
  });
});

describe('decodeBatch', () => {
  it('decodes synchronously where it can, asks decode only for the rest, and sets poison aside from either', async () => {
    const asked: string[] = [];
    const { d } = deps({
      decodeSync: (m) => {
        const v = m.value!.toString();
        if (v === 'bad-sync') throw new RapflowError('RECORD_UNDECODABLE', 'truncated');
        return v.startsWith('new') ? undefined : { name: 'LyricLine', record: { id: v, text: v } };
      },
      decode: (m) => {
        asked.push(m.offset);
        return Promise.resolve({ name: 'LyricLine', record: { id: 'fetched', text: 'fetched' } });
      },
    });
    const b = await decodeBatch([msg(0), msg(1, 'new-schema'), msg(2, 'bad-sync'), msg(3)], d);
    expect(asked).toEqual(['1']);
    expect(b.records.map((r) => r.record.id)).toEqual(['v0', 'fetched', 'v3']);
    expect(b.owner).toEqual([0, 1, 3]);
    expect(b.poison.map((p) => [p.m.offset, p.error.code])).toEqual([['2', 'RECORD_UNDECODABLE']]);
    expect(await writeBatch(b, d)).toMatchObject({ records: 4, written: 3, deadLettered: 1 });
  });
});
