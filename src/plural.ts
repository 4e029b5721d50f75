// Counts with their nouns, agreeing in number everywhere rapflow prints one (CLI, summaries, report).

/** "1 file", "2 files", "0 files": a count with its noun. */
export const count = (n: number, noun: string, plural = `${noun}s`) => `${n} ${n === 1 ? noun : plural}`;

/** The noun alone, for a count printed elsewhere ("1 of 2 files"). */
export const noun = (n: number, singular: string, plural = `${singular}s`) => (n === 1 ? singular : plural);

/** The verb after a count: "1 file does", "2 files do". */
export const verb = (n: number, singular: string, plural: string) => (n === 1 ? singular : plural);
