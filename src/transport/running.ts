// The life of a consumer, whichever client runs it: started once, stopped after the work in hand,
// and failed (not restarted) by the first error of its handler.
import type { RunningConsumer } from './types.js';

export interface ConsumerLife {
  connect: () => Promise<void>;
  /** Stops fetching once the work in hand is done. */
  stop: () => Promise<void>;
  /** Leaves the group and closes the connections (after stop, or after a failure). */
  disconnect: () => Promise<void>;
}

/**
 * Connects and starts a consumer whose handler reports its first error through `fail`; `done`
 * rejects with it. Errors while starting are mapped by `mapError` and thrown.
 */
export async function runConsumer(life: ConsumerLife, start: (fail: (err: unknown) => void) => Promise<void>, mapError: (err: unknown) => Error): Promise<RunningConsumer> {
  let fail: (err: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined); // observed through `done`
  try {
    await life.connect();
    await start(fail);
  } catch (err) {
    await life.disconnect().catch(() => undefined);
    throw mapError(err);
  }
  let stopped: () => void = () => {};
  const stoppedP = new Promise<void>((resolve) => (stopped = resolve));
  const done = Promise.race([stoppedP, failed]).finally(() => life.disconnect());
  return {
    stop: async () => {
      await life.stop();
      stopped();
      await done.catch(() => undefined);
    },
    done,
  };
}
