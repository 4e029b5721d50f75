// Plain-text tables for the terminal.
import stringWidth from 'string-width';
import type { ServiceReport } from '../stack/index.js';

export function formatReports(reports: ServiceReport[]): string {
  const rows = reports.map((r) => [
    r.name,
    r.state,
    r.url,
    r.startSeconds === undefined ? '' : `${r.startSeconds.toFixed(1)} s`,
    r.pid === undefined ? '' : String(r.pid),
    r.rssMb === undefined ? '' : `${Math.round(r.rssMb)} MB`,
    r.detail.split('\n')[0]!,
  ]);
  // What to do about a service that is not installed, whole, under the table.
  const notes = reports.filter((r) => r.state === 'not installed').map((r) => `\n${r.name}: not installed.\n${r.detail}`);
  const rss = reports.filter((r) => r.rssMb !== undefined);
  const total = rss.length > 1 ? `\nmemory: ${Math.round(rss.reduce((n, r) => n + r.rssMb!, 0))} MB resident in all (${rss.length} services)` : '';
  return formatTable(['SERVICE', 'STATE', 'URL', 'START', 'PID', 'RSS', 'DETAIL'], rows) + total + notes.join('');
}

export { count } from '../plural.js';

/** Columns padded to their widest cell, by terminal columns (CJK and emoji take two); the last column runs free. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(stringWidth(h), ...rows.map((row) => stringWidth(row[i] ?? ''))));
  const pad = (c: string, w: number) => c + ' '.repeat(Math.max(0, w - stringWidth(c)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : pad(c, widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}
