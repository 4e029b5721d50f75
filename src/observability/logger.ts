// pino logger factory: JSON to stdout, secrets redacted by path, declared once here.
import { pino, type Logger } from 'pino';

/** Paths whose values never reach a log line. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'secretKey',
  '*.secretKey',
  '*.*.secretKey',
  'token',
  '*.token',
  'authToken',
  '*.authToken',
  'headers["x-cassandra-token"]',
  '*.headers["x-cassandra-token"]',
  'headers.authorization',
  '*.headers.authorization',
];

export interface LoggerOptions {
  level?: string;
  /** Where the JSON lines go; stdout unless given (tests pass a stream). */
  destination?: pino.DestinationStream;
}

export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  return pino(
    {
      name,
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.errWithCause },
    },
    options.destination ?? pino.destination(1),
  );
}

export type { Logger };
