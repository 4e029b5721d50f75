// Secrets never appear in logs, errors, reports or manifests: a full run with a fresh Cassandra
// role and debug logging, and the failure paths where credentials are most likely to leak.
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CqlSession } from '../../src/store/cql/session.js';
import { rapflow } from './cli.js';
import { config, dropIsolated, isolatedEnv, uniqueName } from './stack.js';

const tmp = mkdtempSync(join(tmpdir(), 'rapflow-secrets-'));
const role = uniqueName('rf_secret', '_');
const password = `Pw-${randomBytes(9).toString('hex')}`;
const isolated = isolatedEnv('sec');
const env = {
  ...isolated,
  CASSANDRA_USERNAME: role,
  CASSANDRA_PASSWORD: password,
  LOG_LEVEL: 'debug',
};
/** Every secret the runs below are configured with. */
const secrets = [password, config.s3.secretKey];

/** All text of a folder's files, recursively (reports, manifests, lists). */
function filesText(dir: string): string {
  if (!existsSync(dir)) return '';
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
}

const leaks = (text: string, list = secrets) => list.filter((s) => text.includes(s));

describe('secrets stay out of every output', () => {
  afterAll(async () => {
    const admin = new CqlSession({ ...config.cassandra });
    await admin.connect();
    await admin.execute(`DROP ROLE IF EXISTS ${role}`);
    await admin.close();
    await dropIsolated(isolated);
  });

  it('a whole run at debug level: stdout, stderr, report and manifest', async () => {
    const admin = new CqlSession({ ...config.cassandra });
    await admin.connect();
    await admin.execute(`CREATE ROLE ${role} WITH PASSWORD = '${password}' AND LOGIN = true AND SUPERUSER = true`);
    await admin.close();
    const out = join(tmp, 'run');
    const r = await rapflow(['run', '--out', out], env);
    expect(r.code, r.stderr.slice(-1500)).toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('{')).length).toBeGreaterThan(10); // debug logs were written
    expect(r.stderr).toContain('[redacted]');
    expect(filesText(out)).toContain('report'); // the files exist and were read
    expect(leaks(r.stdout + r.stderr + filesText(out))).toEqual([]);
  });

  it('the failure paths: refused credentials name the user, never the password', async () => {
    const wrongPw = `Wrong-${randomBytes(6).toString('hex')}`;
    const wrongS3 = `s3-${randomBytes(8).toString('hex')}`;
    const saslPw = `Sasl-${randomBytes(8).toString('hex')}`;
    const cqlBad = await rapflow(['db', 'init'], { ...env, CASSANDRA_PASSWORD: wrongPw });
    expect(cqlBad.code).not.toBe(0);
    expect(cqlBad.stderr).toMatch(/SINK_AUTH_FAILED|credentials|authenticat/i);
    const s3Bad = await rapflow(['discover', '--out', join(tmp, 'l.json')], { ...env, S3_SECRET_KEY: wrongS3 });
    expect(s3Bad.code).not.toBe(0);
    const kafkaBad = await rapflow(['topics', 'create'], { ...env, KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'rapflow-split', KAFKA_SASL_PASSWORD: saslPw });
    expect(kafkaBad.code).not.toBe(0);
    for (const r of [cqlBad, s3Bad, kafkaBad]) expect(leaks(r.stdout + r.stderr, [...secrets, wrongPw, wrongS3, saslPw])).toEqual([]);
  });
});
