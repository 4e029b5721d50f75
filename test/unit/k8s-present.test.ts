// What `rapflow k8s present` makes of strimzi/ (pure parts): a KafkaUser's ACLs as Kafka's own
// entries, a KafkaTopic on fewer brokers than it asks copies of, and the bridge's forwards.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { stackForwards } from '../../src/stack/k8s.js';
import { aclEntries, topicOf } from '../../src/stack/k8s-present.js';
import type { StackEndpoints } from '../../src/stack/services.js';

const docs = (file: string) => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as { kind: string; metadata: { name: string }; spec: Record<string, unknown> });

describe('aclEntries', () => {
  it('turns each operation of each KafkaUser ACL into one allow entry for that user', () => {
    const entries = aclEntries('rapflow-split', [
      { resource: { type: 'topic', name: 'rap.', patternType: 'prefix' }, operations: ['Write', 'Describe'] },
      { resource: { type: 'cluster' }, operations: ['IdempotentWrite'] },
    ]);
    expect(entries).toHaveLength(3);
    expect(entries[0]).toMatchObject({ resourceType: 2, resourceName: 'rap.', resourcePatternType: 4, principal: 'User:rapflow-split', host: '*', operation: 4, permissionType: 3 });
    expect(entries[2]).toMatchObject({ resourceType: 4, resourceName: 'kafka-cluster', resourcePatternType: 3, operation: 12 });
  });

  it('covers every ACL of strimzi/users.yaml, and refuses an operation it does not know', () => {
    for (const u of docs('strimzi/users.yaml').filter((d) => d.kind === 'KafkaUser')) {
      const acls = (u.spec['authorization'] as { acls: Parameters<typeof aclEntries>[1] }).acls;
      expect(aclEntries(u.metadata.name, acls).length).toBe(acls.reduce((n, a) => n + a.operations.length, 0));
    }
    expect(() => aclEntries('u', [{ resource: { type: 'topic', name: 't' }, operations: ['Fly'] }])).toThrow(/unknown ACL operation Fly/);
  });
});

describe('topicOf', () => {
  it('caps replicas and min.insync.replicas at the brokers there are, keeping the rest of the config', () => {
    const songs = docs('strimzi/topics.yaml').find((d) => d.metadata.name === 'rap-songs')!;
    expect(topicOf(songs as never, 1)).toEqual({
      topic: 'rap.songs',
      numPartitions: 3,
      replicationFactor: 1,
      configEntries: [
        { name: 'retention.ms', value: '604800000' },
        { name: 'min.insync.replicas', value: '1' },
      ],
    });
    expect(topicOf(songs as never, 3).replicationFactor).toBe(3);
    expect(topicOf(songs as never, 3).configEntries).toContainEqual({ name: 'min.insync.replicas', value: '2' });
  });
});

describe('stackForwards', () => {
  it("forwards the operators' ports to the stack's own addresses", () => {
    const ep = { cqlContactPoint: '127.0.0.1:9042', stargateUrl: 'http://127.0.0.2:8082', stargateAuthUrl: 'http://127.0.0.2:8081' } as StackEndpoints;
    expect(stackForwards(ep)).toBe('9093=127.0.0.1:9094 9042=127.0.0.1:9042 8081=127.0.0.2:8081 8082=127.0.0.2:8082');
  });
});
