// Numeric flags, checked once: a bad value is CONFIG_INVALID naming the flag (exit 78).
import { RapflowError } from '../errors.js';

/** A whole number of at least `min`. */
export function wholeNumber(text: string, flag: string, min = 0): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new RapflowError('CONFIG_INVALID', `${flag} ${text}: expected a whole number of at least ${min}`);
  return n;
}

/** A duration in seconds (fractions allowed), not negative. */
export function seconds(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new RapflowError('CONFIG_INVALID', `${flag} ${text}: expected seconds`);
  return n;
}
