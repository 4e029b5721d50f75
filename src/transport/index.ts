// The Kafka transport: one interface (types.ts), two clients. KAFKA_CLIENT picks one; the
// default is the one docs/performance.md shows faster with the whole fault matrix passing.
import { KafkajsTransport } from './kafkajs/index.js';
import { PlatformaticTransport } from './platformatic/index.js';
import type { KafkaClientName, KafkaSettings, KafkaTransport } from './types.js';

export type { KafkaTransport } from './types.js';

export function kafkaTransport(settings: KafkaSettings, client: KafkaClientName): KafkaTransport {
  return client === 'platformatic' ? new PlatformaticTransport(settings) : new KafkajsTransport(settings);
}
