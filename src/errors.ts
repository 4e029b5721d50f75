// One error type for the whole project: a closed list of codes, each with one behaviour.

/**
 * Every error code rapflow raises. `docs/errors.md` has one row per code; a unit test keeps the
 * two in sync. Behaviours: `retryable` (back off, bounded), `poison` (dead-letter or quarantine
 * the record/file and continue), `fatal` (stop with a clear message).
 */
export const ERROR_CODES = {
  CONFIG_INVALID: { behaviour: 'fatal', exit: 78 },
  STACK_INSTALL_FAILED: { behaviour: 'fatal', exit: 1 },
  STACK_START_FAILED: { behaviour: 'fatal', exit: 1 },
  STACK_PORT_BUSY: { behaviour: 'fatal', exit: 1 },
  KAFKA_UNAVAILABLE: { behaviour: 'retryable', exit: 75 },
  REGISTRY_UNAVAILABLE: { behaviour: 'retryable', exit: 75 },
  OBJECT_STORE_UNAVAILABLE: { behaviour: 'retryable', exit: 75 },
  SINK_UNAVAILABLE: { behaviour: 'retryable', exit: 75 },
  SINK_AUTH_FAILED: { behaviour: 'fatal', exit: 1 },
  INPUT_INVALID: { behaviour: 'poison', exit: 1 },
  RECORD_UNDECODABLE: { behaviour: 'poison', exit: 1 },
  SCHEMA_INCOMPATIBLE: { behaviour: 'fatal', exit: 1 },
  CONSUMER_BEHIND: { behaviour: 'retryable', exit: 75 },
  VERIFY_MISMATCH: { behaviour: 'fatal', exit: 1 },
  INTERNAL: { behaviour: 'fatal', exit: 1 },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
export type Behaviour = (typeof ERROR_CODES)[ErrorCode]['behaviour'];

/** Where an error happened; every field optional, all of them safe to log (no secrets). */
export interface ErrorContext {
  service?: string;
  logFile?: string;
  topic?: string;
  partition?: number;
  offset?: string;
  objectKey?: string;
  file?: string;
  httpStatus?: number;
  [key: string]: string | number | boolean | undefined;
}

export class RapflowError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    // The name follows the class, whatever subclass is thrown; never typed by hand.
    this.name = new.target.name;
    this.code = code;
    this.context = options.context ?? {};
  }

  get behaviour(): Behaviour {
    return ERROR_CODES[this.code].behaviour;
  }
}

/**
 * The one place that decides what to do with an error. Anything that is not a RapflowError
 * reached here without being translated at an adapter boundary: that is a bug, so it is fatal
 * and never retried.
 */
export function classify(err: unknown): Behaviour {
  return err instanceof RapflowError ? err.behaviour : 'fatal';
}

/** Process exit code for an error: 75 transient (worth a retry), 78 bad configuration, 1 otherwise. */
export function exitCodeOf(err: unknown): number {
  return err instanceof RapflowError ? ERROR_CODES[err.code].exit : 1;
}
