// Prometheus metrics of the consumer (prom-client), and the HTTP server for /healthz, /readyz and /metrics.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ConsumerMetrics {
  readonly registry = new Registry();
  readonly recordsIn = new Counter({ name: 'rapflow_consumer_records_in_total', help: 'Records read from Kafka.', labelNames: ['topic'], registers: [this.registry] });
  readonly written = new Counter({ name: 'rapflow_consumer_records_written_total', help: 'Records written to Cassandra.', labelNames: ['topic'], registers: [this.registry] });
  readonly deadLettered = new Counter({ name: 'rapflow_consumer_records_dead_lettered_total', help: 'Records sent to the dead-letter topic.', labelNames: ['topic'], registers: [this.registry] });
  readonly retries = new Counter({ name: 'rapflow_consumer_batch_retries_total', help: 'Batch writes retried after a retryable sink error.', registers: [this.registry] });
  readonly batchSeconds = new Histogram({
    name: 'rapflow_consumer_batch_seconds',
    help: 'Time to decode, write and dead-letter one batch.',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly lag = new Gauge({ name: 'rapflow_consumer_lag_records', help: 'Records behind the partition end, at the last batch.', labelNames: ['topic', 'partition'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'rapflow_' });
  }
}

export type ReadinessCheck = () => Promise<void>;

/**
 * /healthz: the process serves requests. /readyz: every dependency answers (each check bounded,
 * results cached briefly so probes do not hammer them). /metrics: Prometheus text format.
 */
export function serveHealth(host: string, port: number, metrics: ConsumerMetrics, checks: Record<string, ReadinessCheck>): Promise<Server> {
  let cached: { at: number; failures: Record<string, string> } | undefined;
  const readiness = async () => {
    if (cached && Date.now() - cached.at < 2_000) return cached.failures;
    const failures: Record<string, string> = {};
    await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await Promise.race([check(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in 3 s')), 3_000))]);
        } catch (err) {
          failures[name] = err instanceof Error ? err.message : 'failed';
        }
      }),
    );
    cached = { at: Date.now(), failures };
    return failures;
  };
  const server = createServer((req, res) => {
    void (async () => {
      if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (req.url === '/readyz') {
        const failures = await readiness();
        const ok = Object.keys(failures).length === 0;
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ready: ok, failures }));
      } else if (req.url === '/metrics') {
        res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(await metrics.registry.metrics());
      } else {
        res.writeHead(404).end();
      }
    })();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
