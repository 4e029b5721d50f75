// Plain-text tables for the terminal.
import type { ServiceReport } from '../stack/index.js';

export function formatReports(reports: ServiceReport[]): string {
  const rows = reports.map((r) => [
    r.name,
    r.state,
    r.url,
    r.startSeconds === undefined ? '' : `${r.startSeconds.toFixed(1)} s`,
    r.pid === undefined ? '' : String(r.pid),
    r.detail,
  ]);
  const header = ['SERVICE', 'STATE', 'URL', 'START', 'PID', 'DETAIL'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}
