// rap-ingest started by Argo Events on the local Kubernetes: the EventBus (NATS JetStream, one
// server), the EventSource on the chart's MinIO bucket notifications and the Sensor, run by Argo
// Events' own controller (scripts/k8s/argo.sh install-events). An upload starts a run within
// seconds; a burst of uploads is one run per window; events dropped on purpose are caught by the
// schedule. The times printed here are docs/kubernetes.md's. CI runs the first test
// (RAPFLOW_K8S_SUBSET=1); `npm run test:k8s` runs all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectl, kubectlOk } from './cluster.js';
import { installArgo, installChart, installEvents, NS, pauseEvents, portForward } from './install.js';
import { Bucket, corpus, type Corpus, finished, podNodes, sleep, stepTimes, workflows, type Workflow } from './runs.js';

const full = process.env.RAPFLOW_K8S_SUBSET === '1' ? it.skip : it;
const SENSOR = 'rap-ingest';
const EVENT_RUNS = `events.argoproj.io/sensor=${SENSOR}`;
let minio: { port: number; stop: () => void };
let bucket: Bucket;
let windowSeconds: number;

const created = (wf: Workflow) => new Date(wf.metadata.creationTimestamp).getTime();
const log = (s: string) => process.stderr.write(`[k8s] ${s}\n`);

/** Runs the Sensor started at or after `sinceMs` (creation times are whole seconds). */
const eventRunsSince = (sinceMs: number) => workflows(EVENT_RUNS).filter((w) => created(w) >= Math.floor(sinceMs / 1000) * 1000);

/** Waits until `label`'s pods are all Ready (after a rollout: only the new ones are left). */
async function podsReady(label: string, deadlineMs = 180_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const pods = (JSON.parse(kubectlOk(['get', 'pods', '-n', NS, '-l', label, '-o', 'json'])) as { items: { metadata: { deletionTimestamp?: string }; status: { conditions?: { type: string; status: string }[] } }[] }).items;
    if (pods.length === 1 && !pods[0]!.metadata.deletionTimestamp && pods[0]!.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return;
    if (Date.now() - t0 > deadlineMs) throw new Error(`pods ${label} not ready after ${deadlineMs} ms:\n${kubectl(['get', 'pods,events', '-n', NS]).stdout}`);
    await sleep(500);
  }
}

const sensorPods = () => kubectlOk(['get', 'pods', '-n', NS, '-l', `sensor-name=${SENSOR}`, '-o', 'jsonpath={.items[*].metadata.name}']).trim().split(/\s+/).filter(Boolean);

/** Waits until the Sensor runs in a new pod (none of `before` left) that is Ready. */
async function rolled(before: string[], deadlineMs = 180_000): Promise<void> {
  const t0 = Date.now();
  while (sensorPods().some((p) => before.includes(p))) {
    if (Date.now() - t0 > deadlineMs) throw new Error(`the Sensor's pod ${before.join(', ')} was not replaced within ${deadlineMs} ms`);
    await sleep(500);
  }
  await podsReady(`sensor-name=${SENSOR}`, deadlineMs);
}

/** The Sensor's pod, and the lines of its log that match. */
function sensorLog(pattern: RegExp): string[] {
  return kubectl(['logs', '-n', NS, '-l', `sensor-name=${SENSOR}`, '--tail=-1']).stdout.split('\n').filter((l) => pattern.test(l));
}

beforeAll(async () => {
  installChart();
  installArgo();
  const t0 = Date.now();
  installEvents();
  kubectlOk(['wait', '-n', NS, 'eventbus/default', '--for=condition=Deployed', '--timeout=180s']);
  await podsReady('eventsource-name=rap-inbox');
  await podsReady(`sensor-name=${SENSOR}`);
  log(`Argo Events: EventBus, EventSource and Sensor ready ${((Date.now() - t0) / 1000).toFixed(1)} s after its controller was applied`);
  // The schedule has tests of its own; here it only runs when a test sets it.
  kubectlOk(['patch', 'cronworkflow', 'rap-ingest', '-n', NS, '--type', 'merge', '-p', '{"spec":{"suspend":true}}']);
  windowSeconds = Number(kubectlOk(['get', 'sensor', SENSOR, '-n', NS, '-o', 'jsonpath={.spec.triggers[0].template.argoWorkflow.parameters[0].src.dataTemplate}']).match(/div \(now \| unixEpoch\) (\d+)/)![1]);
  minio = await portForward('rapflow-minio', 9000);
  bucket = new Bucket(minio.port);
}, 1_500_000);

afterAll(() => {
  minio?.stop();
  pauseEvents();
});

/** Waits until the event runs since `sinceMs` have listed every key and ended; those runs. */
async function ingestedByEvents(keys: string[], sinceMs: number, deadlineMs = 400_000): Promise<Workflow[]> {
  const t0 = Date.now();
  for (;;) {
    const runs = eventRunsSince(sinceMs);
    const ended = await Promise.all(runs.filter((w) => ['Succeeded', 'Failed', 'Error'].includes(w.status.phase ?? '')).map(async (w) => ({ w, listed: await bucket.listed(w) })));
    const seen = new Set(ended.flatMap((e) => e.listed));
    if (keys.every((k) => seen.has(k)) && runs.length === ended.length) return runs;
    if (Date.now() - t0 > deadlineMs) throw new Error(`after ${deadlineMs} ms, ${keys.filter((k) => !seen.has(k)).length} of ${keys.length} uploads in no ended event run; runs: ${runs.map((w) => `${w.metadata.name} ${w.status.phase}`).join(', ')}`);
    await sleep(1_000);
  }
}

describe('rap-ingest started by Argo Events', () => {
  it('an upload starts a run within seconds; the run lists the upload once its window closes and ingests it', async () => {
    const c = corpus(minio.port, 'event', 4, 2);
    const uploaded = Date.now();
    let run: Workflow | undefined;
    for (const deadline = uploaded + 60_000; !run && Date.now() < deadline; await sleep(200)) run = eventRunsSince(uploaded - 1_000)[0];
    expect(run, 'no workflow from the Sensor within 60 s of the upload').toBeDefined();
    const startS = (Date.now() - uploaded) / 1000;
    const wf = await finished(run!.metadata.name);
    const discover = podNodes(wf, 'discover')[0]!;
    log(
      `upload of ${c.keys.length} files: ${wf.metadata.name} seen ${startS.toFixed(1)} s after the upload ended; ` +
        `discover began ${((new Date(discover.startedAt!).getTime() - uploaded) / 1000).toFixed(0)} s after it (the ${windowSeconds} s window), ` +
        `the run ${wf.status.phase} ${((new Date(wf.status.finishedAt!).getTime() - uploaded) / 1000).toFixed(0)} s after it; ${stepTimes(wf)}`,
    );
    expect(wf.status.phase).toBe('Succeeded');
    expect((await bucket.listed(wf)).filter((k) => k.startsWith(c.prefix)).sort()).toEqual([...c.keys].sort());
    const { verify } = await bucket.report(wf);
    expect(verify.ok).toBe(true);
    expect(verify.files).toBeGreaterThanOrEqual(c.keys.length);
  });

  full('a burst of 50 uploads makes one run per window, and each file is listed by exactly one run', async () => {
    const t0 = Date.now();
    const c = corpus(minio.port, 'burst', 98, 2);
    const uploadS = (Date.now() - t0) / 1000;
    expect(c.keys).toHaveLength(50);
    const runs = await ingestedByEvents(c.keys, t0);
    // Any late trigger of the burst would still make a run of a later window: wait one out.
    await sleep((windowSeconds + 10) * 1000);
    const after = eventRunsSince(t0);
    const lists = await Promise.all(after.map(async (w) => (await bucket.listed(w)).filter((k) => k.startsWith(c.prefix))));
    const times = new Map<string, number>();
    for (const k of lists.flat()) times.set(k, (times.get(k) ?? 0) + 1);
    const spanned = Math.floor(((t0 + uploadS * 1000) / 1000) / windowSeconds) - Math.floor(t0 / 1000 / windowSeconds) + 1;
    // Each trigger that found its window's run there: one error line with the events it carried.
    const collided = sensorLog(/Failed to execute a trigger.*triggeredByEvents/).length;
    expect(sensorLog(/already exists/).length).toBeGreaterThan(0);
    log(`burst of 50 uploads in ${uploadS.toFixed(1)} s (${spanned} window(s)): ${after.length} run(s) ${after.map((w) => `${w.metadata.name} ${w.status.phase} listing ${lists[after.indexOf(w)]!.length}`).join(', ')}; ${collided} trigger(s) found their window's run created already`);
    expect(runs.every((w) => w.status.phase === 'Succeeded')).toBe(true);
    expect(after.length).toBeLessThanOrEqual(spanned);
    expect(new Set(after.map((w) => w.metadata.name)).size).toBe(after.length);
    expect([...times.values()].every((n) => n === 1)).toBe(true);
    expect(times.size).toBe(50);
    expect(collided).toBeGreaterThan(0);
  });

  full('events dropped on purpose are caught by the next scheduled run', async () => {
    const sensor = JSON.parse(kubectlOk(['get', 'sensor', SENSOR, '-n', NS, '-o', 'json'])) as { spec: { dependencies: unknown[] } };
    const cron = JSON.parse(kubectlOk(['get', 'cronworkflow', 'rap-ingest', '-n', NS, '-o', 'json'])) as { spec: { schedules: string[] } };
    // The Sensor drops every event: its dependency passes only in a one-second window about
    // twelve hours away (start before stop within one day: a stop before the start would mean a
    // window across midnight). Argo Events' controller rolls the Sensor's pod for the change.
    const at = new Date(Date.now() + 12 * 3_600_000);
    if (at.getUTCHours() === 23 && at.getUTCMinutes() === 59) at.setUTCHours(22);
    const hhmmss = (d: Date) => d.toISOString().slice(11, 19);
    const drop = [{ name: 'inbox-object', eventSourceName: 'rap-inbox', eventName: 'inbox', filters: { time: { start: hhmmss(at), stop: hhmmss(new Date(at.getTime() + 1_000)) } } }];
    const before = sensorPods();
    kubectlOk(['patch', 'sensor', SENSOR, '-n', NS, '--type', 'merge', '-p', JSON.stringify({ spec: { dependencies: drop } })]);
    let c: Corpus;
    try {
      await rolled(before);
      const uploaded = Date.now();
      c = corpus(minio.port, 'dropped', 4, 2);
      await sleep(20_000);
      expect(eventRunsSince(uploaded), 'the Sensor started a run for events it should have dropped').toEqual([]);
    } finally {
      const dropping = sensorPods();
      kubectlOk(['patch', 'sensor', SENSOR, '-n', NS, '--type', 'merge', '-p', JSON.stringify({ spec: { dependencies: sensor.spec.dependencies } })]);
      await rolled(dropping);
    }
    // The schedule, shortened to every minute, runs the same template: discover compares the
    // bucket with the ingest ledger, not with events.
    const scheduled = Date.now();
    kubectlOk(['patch', 'cronworkflow', 'rap-ingest', '-n', NS, '--type', 'merge', '-p', JSON.stringify({ spec: { schedules: ['* * * * *'], suspend: false } })]);
    try {
      let fired: Workflow | undefined;
      for (const deadline = scheduled + 150_000; !fired && Date.now() < deadline; await sleep(1_000)) {
        fired = workflows('workflows.argoproj.io/cron-workflow=rap-ingest').find((w) => created(w) >= Math.floor(scheduled / 1000) * 1000);
      }
      expect(fired, 'no scheduled run within 150 s').toBeDefined();
      kubectlOk(['patch', 'cronworkflow', 'rap-ingest', '-n', NS, '--type', 'merge', '-p', '{"spec":{"suspend":true}}']);
      const wf = await finished(fired!.metadata.name);
      const listed = await bucket.listed(wf);
      log(`events dropped by the Sensor: no event run; the scheduled run ${wf.metadata.name} ${wf.status.phase} listing ${listed.length} file(s)`);
      expect(wf.status.phase).toBe('Succeeded');
      expect(listed.filter((k) => k.startsWith(c.prefix)).sort()).toEqual([...c.keys].sort());
    } finally {
      kubectlOk(['patch', 'cronworkflow', 'rap-ingest', '-n', NS, '--type', 'merge', '-p', JSON.stringify({ spec: { schedules: cron.spec.schedules, suspend: true } })]);
    }
  });
});
