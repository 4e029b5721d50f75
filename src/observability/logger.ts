// pino logger factory: JSON to stdout, secrets redacted by path.
import { pino, type Logger } from 'pino';
import { SECRET_PATHS } from '../config/index.js';

/**
 * Paths whose values never reach a log line: the config's secrets (from SECRET_PATHS, under
 * `config` as commands log it, or at the top), and the names secrets go by anywhere else.
 */
export const REDACT_PATHS = [
  ...SECRET_PATHS.flatMap((p) => [`config.${p.join('.')}`, p.join('.')]),
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
