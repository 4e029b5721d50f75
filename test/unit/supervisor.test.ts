import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatReports } from '../../src/cli/format.js';
import { Stack, type StackEndpoints } from '../../src/stack/index.js';
import { likelyCause, portAnswers } from '../../src/stack/supervisor.js';

describe('likelyCause', () => {
  it.each([
    ['java.net.BindException: Address already in use', 'port'],
    ['java.lang.UnsupportedClassVersionError: io/apicurio/X has been compiled by a more recent version', 'Java runtime'],
    ['java.lang.OutOfMemoryError: Java heap space', 'memory'],
    ['WriteFailureException: Operation failed - received 0 responses and 1 failures: INCOMPATIBLE_SCHEMA from /127.0.2.1:7000', 'schema of another ring'],
    ['Error: Could not find or load main class kafka.Kafka\nCaused by: java.lang.ClassNotFoundException: kafka.Kafka', 'incomplete install'],
  ])('recognises %s', (log, expected) => {
    expect(likelyCause(log)).toContain(expected);
  });

  it('says nothing when it does not know', () => {
    expect(likelyCause('INFO started')).toBeUndefined();
    // Every JVM start logs its flags; the flag is not an out-of-memory error.
    expect(likelyCause('Running java -Xmx384m -XX:+HeapDumpOnOutOfMemoryError -jar x.jar')).toBeUndefined();
  });
});

describe('portAnswers', () => {
  it('tells a listening port from a closed one', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    expect(await portAnswers(port)).toBe(true);
    await new Promise<void>((r) => server.close(() => r()));
    expect(await portAnswers(port)).toBe(false);
  });
});

describe('formatReports', () => {
  it('aligns columns and shows start time, pid, memory and the total memory', () => {
    const out = formatReports([
      { name: 'kafka', state: 'up', url: 'kafka://127.0.0.1:9092', startSeconds: 7.25, pid: 42, rssMb: 480.4, detail: 'ok' },
      { name: 'minio', state: 'down', url: 'http://127.0.0.1:9000', detail: 'not started by rapflow' },
      { name: 'cassandra', state: 'up', url: 'cql://127.0.0.1:9042', pid: 43, rssMb: 719.6, detail: 'ok' },
    ]);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^SERVICE\s+STATE\s+URL\s+START\s+PID\s+RSS\s+DETAIL$/);
    expect(lines[1]).toContain('7.3 s');
    expect(lines[1]).toContain('480 MB');
    expect(lines[4]).toBe('memory: 1200 MB resident in all (2 services)');
    expect(lines[1]!.indexOf('kafka://')).toBe(lines[2]!.indexOf('http://'));
  });
});

describe('the cluster start order', () => {
  const cassandraWaits = (state: string) =>
    Object.fromEntries(new Stack({} as StackEndpoints, () => {}, { state, nodes: 3 }).services.filter((s) => s.name.startsWith('cassandra')).map((s) => [s.name, s.after ?? []]));

  it('joins new Cassandra nodes one at a time, the seed first', () => {
    const state = mkdtempSync(join(tmpdir(), 'rapflow-order-'));
    expect(cassandraWaits(state)).toEqual({ 'cassandra-1': [], 'cassandra-2': ['cassandra-1'], 'cassandra-3': ['cassandra-2'] });
  });

  it('starts nodes that joined before together, so none waits for a quorum it is part of', () => {
    const state = mkdtempSync(join(tmpdir(), 'rapflow-order-'));
    for (const n of [1, 2]) mkdirSync(join(state, 'data', `cassandra-${n}`, 'data', 'system'), { recursive: true });
    // cassandra-3 never started: it still joins after cassandra-2.
    expect(cassandraWaits(state)).toEqual({ 'cassandra-1': [], 'cassandra-2': [], 'cassandra-3': ['cassandra-2'] });
    mkdirSync(join(state, 'data', 'cassandra-3', 'data', 'system'), { recursive: true });
    expect(cassandraWaits(state)).toEqual({ 'cassandra-1': [], 'cassandra-2': [], 'cassandra-3': [] });
  });
});
