// Words of a lyric line, for `query lines --word` and the report's word counts: Unicode letters, any script.
import * as sw from 'stopword';

const WORD = /[\p{L}\p{M}\p{N}]+(?:['’][\p{L}]+)*/gu;

export const normaliseWord = (w: string) => w.normalize('NFKC').toLocaleLowerCase('und');

export function wordsOf(text: string): string[] {
  return (text.normalize('NFKC').match(WORD) ?? []).map(normaliseWord);
}

// Per-language lists of function words from the `stopword` package (ISO 639-3 names); ours add
// only the interjections and contractions of rap lyrics that no general list has.
const RAP_FILLERS = ['yo', 'ya', 'yeah', 'uh', 'huh', 'im', "i'm", 'dont', "don't", "ain't", 'gonna', 'wanna', 'gotta', "it's", "that's"];
/** English words as empty as its function words that the package's short English list keeps: negations, small numbers, quantifiers. */
const ENGLISH_EXTRA = ['not', 'no', 'all', 'every', 'one', 'two', 'three', 'four', 'five', 'get', 'got', 'like', 'just'];

/** ISO 639-1 (the songs' language tags) to the `stopword` package's list names. */
const LISTS: Record<string, readonly string[]> = {
  en: sw.eng, fr: sw.fra, es: sw.spa, pt: sw.por, el: sw.ell, uk: sw.ukr, hi: sw.hin, ja: sw.jpn, de: sw.deu, it: sw.ita,
  nl: sw.nld, ru: sw.rus, pl: sw.pol, sv: sw.swe, tr: sw.tur, ar: sw.ara, zh: sw.zho, ko: sw.kor, ro: sw.ron, cs: sw.ces,
};

const cache = new Map<string, ReadonlySet<string>>();

/**
 * Words too common to say anything about a song in `language` (a BCP 47 tag: its primary subtag
 * picks the list): that language's function words, English's too (the genre's lingua franca: the
 * sample's Greek, Ukrainian and Japanese songs switch into English), and the fillers of rap lyrics.
 */
export function stopWordsOf(language: string): ReadonlySet<string> {
  const base = language.toLowerCase().split('-')[0] ?? '';
  let set = cache.get(base);
  if (!set) {
    set = new Set([...(LISTS[base] ?? []), ...sw.eng, ...ENGLISH_EXTRA, ...RAP_FILLERS].map(normaliseWord));
    cache.set(base, set);
  }
  return set;
}
