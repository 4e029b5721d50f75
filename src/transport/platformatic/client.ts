// The connection options every @platformatic/kafka client of rapflow shares.
import type { BaseOptions } from '@platformatic/kafka';
import type { KafkaSettings } from '../types.js';

export function baseOptions(settings: KafkaSettings): BaseOptions {
  return {
    clientId: settings.clientId,
    bootstrapBrokers: settings.brokers,
    connectTimeout: 3_000,
    // Bounded: after these, the command ends with 75 and the workflow decides whether to retry.
    retries: 5,
    retryDelay: 300,
    ...(settings.sasl
      ? { sasl: { mechanism: settings.sasl.mechanism === 'scram-sha-512' ? 'SCRAM-SHA-512' : 'SCRAM-SHA-256', username: settings.sasl.username, password: settings.sasl.password } }
      : {}),
    ...(settings.tls ? { tls: settings.ca ? { ca: [settings.ca] } : {} } : {}),
  };
}
