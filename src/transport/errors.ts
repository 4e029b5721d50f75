// What a Kafka client's error means for rapflow: the same four answers for every client. Each
// client's errors.ts reads its own error classes into these facts.
import { RapflowError } from '../errors.js';

export interface KafkaErrorFacts {
  /** The innermost message, for the operator. */
  message: string;
  credentialsRefused: boolean;
  /** The broker's message when a topic or partition does not exist. */
  missingTopic?: string;
  /** The protocol error type when an ACL refused the request. */
  notAuthorized?: string;
  /** The broker or its coordinator is away, or the request may succeed when retried. */
  unavailable: boolean;
}

/** The error and its causes (and an aggregate's errors), outermost first. */
export function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  const queue = [err];
  while (queue.length > 0 && out.length < 16) {
    const e = queue.shift();
    if (e === undefined || e === null) continue;
    out.push(e);
    if (e instanceof AggregateError) queue.push(...(e.errors as unknown[]));
    queue.push((e as { cause?: unknown }).cause);
  }
  return out;
}

// Network failures, and coordinators gone with their broker ("Failed to find group coordinator"
// is a non-retriable class in kafkajs, yet only means the broker is away: seen when it stops mid-split).
export const NETWORK = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|EPIPE|socket hang up|Connection error|Closed connection|closed unexpectedly|coordinator|NOT_LEADER|LEADER_NOT_AVAILABLE|timed out/i;

export function asRapflowError(facts: KafkaErrorFacts, what: string, err: unknown): RapflowError {
  const { message } = facts;
  if (facts.credentialsRefused) return new RapflowError('CONFIG_INVALID', `${what}: Kafka refused the credentials (${message})`, { cause: err });
  if (facts.missingTopic !== undefined) {
    return new RapflowError('CONFIG_INVALID', `${what}: topic missing (${facts.missingTopic}); create the topics first (\`rapflow topics create\`)`, { cause: err });
  }
  if (facts.notAuthorized !== undefined) return new RapflowError('CONFIG_INVALID', `${what}: not allowed by the broker's ACLs (${facts.notAuthorized})`, { cause: err });
  if (facts.unavailable) return new RapflowError('KAFKA_UNAVAILABLE', `${what}: Kafka unavailable (${message})`, { cause: err });
  return new RapflowError('INTERNAL', `${what}: Kafka error ${message}`, { cause: err });
}
