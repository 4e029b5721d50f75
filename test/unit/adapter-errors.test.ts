// Foreign errors become ours at the adapter boundary: one code each, never "unknown, retry forever".
import cassandra from 'cassandra-driver';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { registryError } from '../../src/codec/registry.js';
import { cqlError, statementName } from '../../src/store/cql/session.js';
import { s3Error } from '../../src/source/s3.js';
import { kafkaError } from '../../src/transport/kafkajs/errors.js';
import { kafkaError as platformaticError } from '../../src/transport/platformatic/errors.js';
import { AuthenticationError, MultipleErrors, NetworkError, ProtocolError, TimeoutError, UserError } from '@platformatic/kafka';

const { KafkaJSConnectionError, KafkaJSGroupCoordinatorNotFound, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, KafkaJSSASLAuthenticationError } = kafkajs;

describe('kafkaError', () => {
  it.each([
    ['a refused connection', new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), 'KAFKA_UNAVAILABLE'],
    ['retries exhausted', new KafkaJSNumberOfRetriesExceeded(new Error('Request timed out'), { retryCount: 5, retryTime: 3000 }), 'KAFKA_UNAVAILABLE'],
    // What a transaction's sendBatch throws when the broker went away (seen in the broker-stop test).
    ['a connection error wrapped as non-retriable', new KafkaJSNonRetriableError(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092') as unknown as string), 'KAFKA_UNAVAILABLE'],
    // What a transaction throws when the broker stops between two files (seen in a CI run).
    ['no group coordinator', new (KafkaJSGroupCoordinatorNotFound as unknown as new (m: string) => Error)('Failed to find group coordinator'), 'KAFKA_UNAVAILABLE'],
    ['bad credentials', new (KafkaJSSASLAuthenticationError as unknown as new (m: string) => Error)('SASL SCRAM-SHA-512 authentication failed'), 'CONFIG_INVALID'],
    ['a missing topic', Object.assign(new KafkaJSProtocolError('This server does not host this topic-partition'), { type: 'UNKNOWN_TOPIC_OR_PARTITION' }), 'CONFIG_INVALID'],
    ['an ACL refusal', Object.assign(new KafkaJSProtocolError('Not authorized to access topics'), { type: 'TOPIC_AUTHORIZATION_FAILED' }), 'CONFIG_INVALID'],
    ['anything else', new Error('unexpected'), 'INTERNAL'],
  ])('%s -> %s', (_what, err, code) => {
    expect(kafkaError(err, 'producing').code).toBe(code);
  });
});

// The shapes @platformatic/kafka throws, built with its own classes (the names are from its errors.ts;
// "Unknown topic" and the MultipleErrors wrapping were seen against the real broker).
describe('kafkaError of @platformatic/kafka', () => {
  it.each([
    ['a refused connection', new NetworkError('Connection to 127.0.0.1:1 failed.', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') }), 'KAFKA_UNAVAILABLE'],
    ['retries exhausted', new MultipleErrors('Cannot connect to any broker.', [new NetworkError('Connection failed.'), new NetworkError('Connection failed.')]), 'KAFKA_UNAVAILABLE'],
    ['a timeout', new TimeoutError('Request timed out.'), 'KAFKA_UNAVAILABLE'],
    ['a retriable protocol error', new ProtocolError('NOT_LEADER_OR_FOLLOWER'), 'KAFKA_UNAVAILABLE'],
    ['no group coordinator', new ProtocolError('COORDINATOR_NOT_AVAILABLE'), 'KAFKA_UNAVAILABLE'],
    ['bad credentials', new AuthenticationError('SASL authentication failed.'), 'CONFIG_INVALID'],
    ['a missing topic (the broker says)', new MultipleErrors('Producing failed.', [new ProtocolError('UNKNOWN_TOPIC_OR_PARTITION')]), 'CONFIG_INVALID'],
    ['a missing topic (the client says, auto-creation off)', new UserError('Unknown topic rap.nosuch.'), 'CONFIG_INVALID'],
    ['an ACL refusal', new ProtocolError('TOPIC_AUTHORIZATION_FAILED'), 'CONFIG_INVALID'],
    ['anything else', new UserError('The producer is in use by another transaction.'), 'INTERNAL'],
  ])('%s -> %s', (_what, err, code) => {
    expect(platformaticError(err, 'producing').code).toBe(code);
  });
});

describe('cqlError', () => {
  const response = (code: number, message = 'm') => Object.assign(Object.create(cassandra.errors.ResponseError.prototype) as Error, { code, message });
  it.each([
    ['no host', new cassandra.errors.NoHostAvailableError({}), 'SINK_UNAVAILABLE'],
    ['a timeout', new cassandra.errors.OperationTimedOutError('timed out'), 'SINK_UNAVAILABLE'],
    ['overloaded', response(cassandra.types.responseErrorCodes.overloaded), 'SINK_UNAVAILABLE'],
    ['a write timeout', response(cassandra.types.responseErrorCodes.writeTimeout), 'SINK_UNAVAILABLE'],
    ['bad credentials', new cassandra.errors.AuthenticationError('Provided username cassandra and/or password are incorrect'), 'SINK_AUTH_FAILED'],
    // The statement or the schema, not the row: configuration (exit 78), never a dead letter.
    ['a syntax error', response(cassandra.types.responseErrorCodes.syntaxError), 'CONFIG_INVALID'],
    ['an unknown column', response(cassandra.types.responseErrorCodes.invalid, 'Undefined column name bpm in table ks.songs'), 'CONFIG_INVALID'],
    ['a missing keyspace', response(cassandra.types.responseErrorCodes.invalid, 'keyspace nosuch does not exist'), 'CONFIG_INVALID'],
    ['a value the column type cannot take', new TypeError('Expected Number, obtained "x"'), 'CONFIG_INVALID'],
    // Too big for one batch: the rows' size, so the sink writes them one by one.
    ['a batch too large', response(cassandra.types.responseErrorCodes.invalid, 'Batch too large'), 'RECORD_UNDECODABLE'],
    // A request in flight when its node was killed: the driver's own error, not Cassandra's.
    ['a socket closed under a request', Object.assign(Object.create(cassandra.errors.DriverError.prototype) as Error, { message: 'Socket was closed', isSocketError: true }), 'SINK_UNAVAILABLE'],
    ['a replica that failed the write', response(cassandra.types.responseErrorCodes.writeFailure, 'Operation failed - received 1 responses and 1 failures'), 'SINK_UNAVAILABLE'],
    ['anything else from the driver', new Error('unexpected'), 'INTERNAL'],
  ])('%s -> %s', (_what, err, code) => {
    expect(cqlError(err, 'writing').code).toBe(code);
  });

  it('names the statement by its verb and table', () => {
    expect(statementName('SELECT * FROM nosuch.artists WHERE id = ?')).toBe('SELECT nosuch.artists');
    expect(statementName('INSERT INTO ks.songs (id) VALUES (?)')).toBe('INSERT ks.songs');
    expect(statementName('CREATE TABLE IF NOT EXISTS ks.t (id int PRIMARY KEY)')).toBe('CREATE ks.t');
  });
});

describe('registryError and s3Error', () => {
  it.each([
    [{ status: 409, message: 'Confluent_Schema_Registry - Incompatible artifact' }, 'SCHEMA_INCOMPATIBLE'],
    [{ status: 503, message: 'unavailable' }, 'REGISTRY_UNAVAILABLE'],
    [{ status: 400, message: 'connect ECONNREFUSED 127.0.0.1:8085' }, 'REGISTRY_UNAVAILABLE'],
    [{ status: 422, message: 'Invalid schema' }, 'INTERNAL'],
  ])('registry %j -> %s', (err, code) => {
    expect(registryError(err, 'registering').code).toBe(code);
  });

  it.each([
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }, 'OBJECT_STORE_UNAVAILABLE'],
    [{ code: 'SlowDown', message: 'Please reduce your request rate' }, 'OBJECT_STORE_UNAVAILABLE'],
    [{ code: 'NoSuchBucket', message: 'The specified bucket does not exist' }, 'CONFIG_INVALID'],
    [{ code: 'SignatureDoesNotMatch', message: 'signature' }, 'CONFIG_INVALID'],
  ])('s3 %j -> %s', (err, code) => {
    expect(s3Error(err, 'reading').code).toBe(code);
  });

  it('never puts the secret of a failed request in the message', () => {
    const e = s3Error({ code: 'SignatureDoesNotMatch', message: 'sig' }, 'reading s3://b/k');
    expect(e.message).toBe('reading s3://b/k: SignatureDoesNotMatch (check the bucket name and the S3 credentials)');
  });
});
