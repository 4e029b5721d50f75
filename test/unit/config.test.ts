import { describe, expect, it } from 'vitest';
import { EnvSchema, likelyTypos, loadConfig, redactedConfig, SECRET_PATHS } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { RapflowError } from '../../src/errors.js';

describe('loadConfig', () => {
  it('defaults to the local stack', () => {
    const c = loadConfig({});
    expect(c.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(c.registry.url).toBe('http://127.0.0.1:8085/apis/ccompat/v7');
    expect(c.s3.inboxBucket).toBe('rap-inbox');
    expect(Object.isFrozen(c.s3)).toBe(true);
  });

  it('splits broker lists', () => {
    expect(loadConfig({ KAFKA_BROKERS: 'a:9092, b:9092,' }).kafka.brokers).toEqual(['a:9092', 'b:9092']);
  });

  it('reports every bad variable at once, by name, with exit code 78', () => {
    let caught: unknown;
    try {
      loadConfig({ REGISTRY_URL: 'not a url', CASSANDRA_CONTACT_POINT: 'nohost', S3_SECRET_KEY: 'short' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RapflowError);
    const e = caught as RapflowError;
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain('REGISTRY_URL');
    expect(e.message).toContain('CASSANDRA_CONTACT_POINT: expected host:port');
    expect(e.message).toContain('S3_SECRET_KEY');
    expect(e.message).not.toContain('short');
  });

  it('redacts secrets for printing', () => {
    const c = loadConfig({
      S3_SECRET_KEY: 'super-secret-value',
      CASSANDRA_PASSWORD: 'pw-123456',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'rapflow-consume',
      KAFKA_SASL_PASSWORD: 'scram-pw-98765',
    });
    expect(c.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'rapflow-consume', password: 'scram-pw-98765' });
    const printed = JSON.stringify(redactedConfig(c));
    expect(printed).not.toContain('super-secret-value');
    expect(printed).not.toContain('pw-123456');
    expect(printed).not.toContain('scram-pw-98765');
    expect(printed).toContain('rapflow-consume');
    expect(printed).toContain('[redacted]');
  });

  it('wants SASL credentials with a mechanism, and TLS on for a CA file', () => {
    expect(() => loadConfig({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u' })).toThrow(/KAFKA_SASL_MECHANISM: needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/);
    expect(() => loadConfig({ KAFKA_TLS_CA_FILE: '/etc/ca.crt' })).toThrow(/KAFKA_TLS_CA_FILE: set KAFKA_TLS=true/);
    expect(loadConfig({ KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: '/etc/ca.crt' }).kafka).toMatchObject({ tls: true, caFile: '/etc/ca.crt' });
    expect(loadConfig({}).kafka.tls).toBe(false);
  });
});

describe('likely typos in the environment', () => {
  it('names the setting a mistyped variable was probably meant to be', () => {
    expect(likelyTypos({ KAFKA_BROKER: '10.0.0.1:9092', CASSANDRA_KEYSPCE: 'x', STARGATE_UR: 'http://x' })).toEqual([
      { name: 'KAFKA_BROKER', meant: 'KAFKA_BROKERS' },
      { name: 'CASSANDRA_KEYSPCE', meant: 'CASSANDRA_KEYSPACE' },
      { name: 'STARGATE_UR', meant: 'STARGATE_URL' },
    ]);
  });

  it('leaves our own settings, the stack scripts\' and other tools\' variables alone', () => {
    expect(likelyTypos({ KAFKA_BROKERS: 'a:1', KAFKA_HEAP_OPTS: '-Xmx1g', CASSANDRA_MLOCK: '1', KAFKA_OPTS: '-Dx', PATH: '/bin', HOME: '/root', SINK: 'cql' })).toEqual([]);
  });
});

describe('secrets, from one list', () => {
  const secrets = { KAFKA_SASL_PASSWORD: 'sasl-pw-31337', S3_SECRET_KEY: 's3-secret-31337', CASSANDRA_PASSWORD: 'cql-pw-31337' };
  const c = loadConfig({ ...secrets, KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u' });

  it('every secret setting is a path of SECRET_PATHS', () => {
    // A secret added to the environment schema but not to the list would be printed: keep them in step.
    const secretVars = Object.keys(EnvSchema.shape).filter((k) => /PASSWORD|SECRET|TOKEN/.test(k));
    expect(secretVars.sort()).toEqual(Object.keys(secrets).sort());
    expect(SECRET_PATHS).toHaveLength(secretVars.length);
  });

  it('neither the redacted config nor a log line of the whole config holds any of them', () => {
    const lines: string[] = [];
    const log = createLogger('test', { destination: { write: (l: string) => void lines.push(l) } });
    log.info({ config: c }, 'configuration');
    log.info({ config: redactedConfig(c) }, 'configuration');
    log.info(c, 'the config at the top level');
    const printed = [JSON.stringify(redactedConfig(c)), ...lines].join('\n');
    expect(lines).toHaveLength(3);
    for (const v of Object.values(secrets)) expect(printed).not.toContain(v);
    expect(printed).toContain('[redacted]');
    // Nothing else was lost on the way.
    expect(redactedConfig(c).kafka.sasl?.username).toBe('u');
  });
});
