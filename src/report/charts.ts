// The report's charts: Vega-Lite specs compiled and rendered to SVG here, in Node, so the page
// carries no JavaScript at all (and data can never run as code in it). Vega escapes every text it draws.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { ReportData } from './build.js';

const WIDTH = 360;
const FONT = 'system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK JP", "Noto Sans Devanagari", sans-serif';
const PALETTE = ['#5b3cc4', '#e4572e', '#17bebb', '#ffc914', '#76b041', '#2e282a', '#c2185b', '#0277bd', '#8d6e63', '#9e9e9e'];

const config = {
  font: FONT,
  background: 'transparent',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e8e6ef', domainColor: '#888', labelLimit: 150 },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  range: { category: PALETTE },
  bar: { color: PALETTE[0] },
};

export interface Chart {
  id: string;
  title: string;
  caption: string;
  svg: string;
}

async function render(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile({ ...spec, config }, { logger: quietLogger() }).spec), { renderer: 'none', logLevel: vega.Warn });
  // Vega's warnings go to the console; ours are thrown: a spec it cannot draw fails the report.
  view.logger(quietLogger());
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A vega logger that raises errors instead of printing them and keeps quiet otherwise. */
function quietLogger(): vega.LoggerInterface {
  const logger = vega.logger(vega.None);
  logger.error = (...args: readonly unknown[]) => {
    throw new Error(`chart: ${args.map(String).join(' ')}`);
  };
  return logger;
}

/** Horizontal bars, longest first: the shape of three of the charts. */
function bars(values: object[], y: string, x: string, xTitle: string, step: number, extra: object = {}): TopLevelSpec {
  return {
    width: WIDTH,
    height: { step },
    data: { values },
    mark: { type: 'bar', cornerRadiusEnd: 3 },
    ...extra,
    encoding: { y: { field: y, type: 'nominal', sort: '-x', title: null }, x: { field: x, type: 'quantitative', title: xTitle }, ...((extra as { encoding?: object }).encoding ?? {}) },
  };
}

export function chartSpecs(d: ReportData): { id: string; title: string; caption: string; spec: TopLevelSpec }[] {
  const specs: { id: string; title: string; caption: string; spec: TopLevelSpec }[] = [];
  if (d.artists.length > 0) {
    specs.push({
      id: 'artists',
      title: 'Words per artist',
      caption: 'All words of every lyric line, per artist; the label is the number of songs.',
      spec: (() => {
        // Bars with the song count written at their ends: the bar spec as the first of two layers.
        const { mark, ...shared } = bars(d.artists, 'name', 'words', 'words', 20) as { mark: object };
        return {
          ...shared,
          layer: [{ mark }, { mark: { type: 'text', align: 'left', dx: 4, fontSize: 10, color: '#555' }, encoding: { text: { field: 'songs', type: 'quantitative', format: 'd' } } }],
        } as TopLevelSpec;
      })(),
    });
  }
  if (d.topWords.length > 0) {
    specs.push({
      id: 'words',
      title: 'Most used words',
      caption: 'Across all lyric lines, leaving out the function words of each song\'s language and of English, and rap\'s fillers.',
      spec: bars(d.topWords, 'word', 'count', 'times used', 16, { mark: { type: 'bar', cornerRadiusEnd: 3, color: PALETTE[1] } }),
    });
  }
  if (d.timeline.length > 0) {
    specs.push({
      id: 'timeline',
      title: 'Release timeline',
      caption: 'Songs released per year, by artist.',
      spec: {
        width: WIDTH,
        height: 220,
        data: { values: d.timeline },
        mark: 'bar',
        encoding: {
          x: { field: 'year', type: 'ordinal', title: null, axis: { labelAngle: 0 } },
          y: { field: 'songs', type: 'quantitative', title: 'songs', stack: 'zero' },
          color: { field: 'artist', type: 'nominal', title: 'artist' },
        },
      },
    });
  }
  if (d.structure.sections.length > 0) {
    specs.push({
      id: 'structure',
      title: 'Verse and hook structure',
      caption: `Lines per section kind; ${(d.structure.hookShare * 100).toFixed(0)}% of all lines are in a hook or chorus.`,
      spec: bars(d.structure.sections, 'kind', 'lines', 'lines', 22, { encoding: { color: { field: 'kind', type: 'nominal', legend: null } } }),
    });
  }
  if (d.languages.length > 0) {
    specs.push({
      id: 'languages',
      title: 'Languages',
      caption: 'Songs per language tag.',
      spec: {
        width: 220,
        height: 220,
        data: { values: d.languages },
        mark: { type: 'arc', innerRadius: 50 },
        encoding: { theta: { field: 'songs', type: 'quantitative' }, color: { field: 'language', type: 'nominal', title: 'language' } },
      },
    });
  }
  return specs;
}

export async function renderCharts(d: ReportData): Promise<Chart[]> {
  const out: Chart[] = [];
  for (const c of chartSpecs(d)) out.push({ id: c.id, title: c.title, caption: c.caption, svg: await render(c.spec) });
  return out;
}
