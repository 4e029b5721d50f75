// Words of a lyric line, for `query lines --word` and the report's word counts: Unicode letters, any script.

const WORD = /[\p{L}\p{M}\p{N}]+(?:['’][\p{L}]+)*/gu;

export const normaliseWord = (w: string) => w.normalize('NFKC').toLocaleLowerCase('und');

export function wordsOf(text: string): string[] {
  return (text.normalize('NFKC').match(WORD) ?? []).map(normaliseWord);
}

/** Words too common to say anything about a song (English, plus the French and Spanish the sample holds). */
export const STOPWORDS = new Set(
  (
    'a an and are as at be but by do for from got i i\'m in into is it it\'s its just me my no not of on or our so that the their them then ' +
    'they this to up us was we what when where who will with you your yo im dont don\'t ain\'t all like one get that\'s if ' +
    'le la les un une en de des du et est je tu il on qui que y el los las lo es'
  ).split(' '),
);
