// The API versions the @platformatic/kafka producer negotiates: never the brokers' own
// AddPartitionsToTxn (v4+), which needs ClusterAction and so fails under ACLs.
import { describe, expect, it } from 'vitest';
import { CLIENT_ADD_PARTITIONS_TO_TXN_MAX, clientApiVersions } from '../../src/transport/platformatic/producer.js';

describe('clientApiVersions', () => {
  it('caps AddPartitionsToTxn at v3 when a Kafka 3.6+ broker lists v0-v5', () => {
    const apis = clientApiVersions([{ name: 'AddPartitionsToTxn', minVersion: 0, maxVersion: 5 }]);
    expect(apis).toEqual([{ name: 'AddPartitionsToTxn', minVersion: 0, maxVersion: CLIENT_ADD_PARTITIONS_TO_TXN_MAX }]);
    expect(CLIENT_ADD_PARTITIONS_TO_TXN_MAX).toBe(3);
  });

  it('keeps an older broker\'s lower maximum, and every other API as listed', () => {
    const listed = [
      { name: 'AddPartitionsToTxn', minVersion: 0, maxVersion: 2 },
      { name: 'Produce', minVersion: 3, maxVersion: 12 },
      { name: 'EndTxn', minVersion: 0, maxVersion: 5 },
    ];
    expect(clientApiVersions(listed)).toEqual(listed);
  });
});
