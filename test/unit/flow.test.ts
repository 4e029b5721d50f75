// BatchFlow (src/transport/flow.ts): the consumer's overlap of fetch, decode and write, as pure
// logic. Batches here are in-process fakes whose writes end when the test says so; the real
// clients run it in the integration and fault suites.
import { describe, expect, it } from 'vitest';
import { RapflowError } from '../../src/errors.js';
import { RetryInterrupted } from '../../src/retry.js';
import { BatchFlow, consumerTuning, DEFAULT_CONSUMER_TUNING, type FlowBatch } from '../../src/transport/flow.js';

/** A write the test ends by hand: `finish()` or `refuse(err)`. */
function gate() {
  let finish!: () => void;
  let refuse!: (err: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    refuse = reject;
  });
  return { done, finish, refuse };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

function harness(maxInFlight = 4) {
  const events: string[] = [];
  const failures: unknown[] = [];
  const flow = new BatchFlow({ maxInFlight, fail: (err) => failures.push(err) });
  const batch = (key: string, name: string, write: Promise<void>): FlowBatch => ({
    key,
    prepare: () => {
      events.push(`prepare ${name}`);
      return Promise.resolve(async () => {
        events.push(`write ${name}`);
        await write;
      });
    },
    commit: () => {
      events.push(`commit ${name}`);
      return Promise.resolve();
    },
  });
  return { flow, events, failures, batch };
}

describe('BatchFlow', () => {
  it('prepares the next batch while the one before it is written, and commits a partition in order', async () => {
    const { flow, events, batch } = harness();
    const w1 = gate();
    const w2 = gate();
    expect(await flow.push(batch('p0', 'a1', w1.done))).toBe(true);
    expect(await flow.push(batch('p0', 'a2', w2.done))).toBe(true);
    await tick();
    // a2 decoded while a1 is still being written; a2 waits for a1 before it writes.
    expect(events).toEqual(['prepare a1', 'write a1', 'prepare a2']);
    w2.finish();
    await tick();
    expect(events).not.toContain('commit a2');
    w1.finish();
    await flow.idle();
    expect(events).toEqual(['prepare a1', 'write a1', 'prepare a2', 'commit a1', 'write a2', 'commit a2']);
  });

  it('writes batches of different partitions at the same time', async () => {
    const { flow, events, batch } = harness();
    const slow = gate();
    await flow.push(batch('p0', 'a1', slow.done));
    await flow.push(batch('p1', 'b1', Promise.resolve()));
    await tick();
    expect(events).toContain('commit b1');
    expect(events).not.toContain('commit a1');
    slow.finish();
    await flow.idle();
    expect(events).toContain('commit a1');
  });

  it('holds the fetch loop while maxInFlight batches are in hand', async () => {
    const { flow, batch } = harness(2);
    const w = [gate(), gate(), gate()];
    await flow.push(batch('p0', 'a1', w[0]!.done));
    await flow.push(batch('p1', 'b1', w[1]!.done));
    expect(flow.size).toBe(2);
    let third = false;
    const pushed = flow.push(batch('p2', 'c1', w[2]!.done)).then((taken) => (third = taken));
    await tick();
    expect(third).toBe(false);
    w[1]!.finish();
    await pushed;
    expect(third).toBe(true);
    w[0]!.finish();
    w[2]!.finish();
    await flow.idle();
    expect(flow.size).toBe(0);
  });

  it('after a failed write commits nothing more of that partition, fails once, and takes no more batches', async () => {
    const { flow, events, failures, batch } = harness();
    const w1 = gate();
    await flow.push(batch('p0', 'a1', w1.done));
    await flow.push(batch('p0', 'a2', Promise.resolve()));
    await flow.push(batch('p1', 'b1', Promise.resolve()));
    const boom = new RapflowError('SINK_UNAVAILABLE', 'the sink is away');
    w1.refuse(boom);
    await flow.idle();
    expect(failures).toEqual([boom]);
    expect(events).not.toContain('commit a1');
    expect(events).not.toContain('write a2'); // never written past the failure, never committed
    expect(events).not.toContain('commit a2');
    expect(events).toContain('commit b1'); // written before: its commit is right
    expect(await flow.push(batch('p1', 'b2', Promise.resolve()))).toBe(false);
    expect(events).not.toContain('prepare b2');
  });

  it('treats a retry interrupted by a stop as no failure, leaving that partition uncommitted from there', async () => {
    const { flow, events, failures, batch } = harness();
    const w1 = gate();
    await flow.push(batch('p0', 'a1', w1.done));
    await flow.push(batch('p0', 'a2', Promise.resolve()));
    await flow.push(batch('p1', 'b1', Promise.resolve()));
    flow.close();
    w1.refuse(new RetryInterrupted(new Error('away')));
    await flow.idle();
    expect(failures).toEqual([]);
    expect(events.filter((e) => e.startsWith('commit'))).toEqual(['commit b1']);
  });

  it('fails when a batch cannot be prepared, and commits nothing of it', async () => {
    const { flow, events, failures } = harness();
    const bad = new RapflowError('REGISTRY_UNAVAILABLE', 'registry away');
    const taken = await flow.push({ key: 'p0', prepare: () => Promise.reject(bad), commit: () => (events.push('commit'), Promise.resolve()) });
    expect(taken).toBe(false);
    await flow.idle();
    expect(failures).toEqual([bad]);
    expect(events).toEqual([]);
  });

  it('once closed takes nothing, and idle() waits for what it took', async () => {
    const { flow, events, batch } = harness();
    const w = gate();
    await flow.push(batch('p0', 'a1', w.done));
    flow.close();
    expect(await flow.push(batch('p0', 'a2', Promise.resolve()))).toBe(false);
    let idle = false;
    const waiting = flow.idle().then(() => (idle = true));
    await tick();
    expect(idle).toBe(false);
    w.finish();
    await waiting;
    expect(events).toEqual(['prepare a1', 'write a1', 'commit a1']);
  });

  it('a close wakes a fetch loop waiting for room, without taking its batch', async () => {
    const { flow, batch } = harness(1);
    const w = gate();
    await flow.push(batch('p0', 'a1', w.done));
    const waiting = flow.push(batch('p0', 'a2', Promise.resolve()));
    flow.close();
    expect(await waiting).toBe(false);
    w.finish();
    await flow.idle();
  });

  it('a handler that resolves without a write stage is committed when it resolved', async () => {
    const failures: unknown[] = [];
    const flow = new BatchFlow({ maxInFlight: 2, fail: (e) => failures.push(e) });
    const commits: string[] = [];
    await flow.push({ key: 'p0', prepare: () => Promise.resolve(), commit: () => (commits.push('x'), Promise.resolve()) });
    await flow.idle();
    expect(commits).toEqual(['x']);
    expect(failures).toEqual([]);
  });

  it('checks its tuning', () => {
    expect(consumerTuning({})).toEqual(DEFAULT_CONSUMER_TUNING);
    expect(consumerTuning({ maxInFlight: 2 }).maxInFlight).toBe(2);
    expect(() => consumerTuning({ maxInFlight: 0 })).toThrow(/maxInFlight must be a whole number of 1 or more, got 0/);
    expect(() => new BatchFlow({ maxInFlight: 0, fail: () => {} })).toThrow(RangeError);
  });
});
