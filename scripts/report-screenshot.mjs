#!/usr/bin/env node
// The README's screenshot of the report, from the real sample data: run `npm start` first (it
// writes .local/run/report/report.html), then `npm run -s screenshot`. Debian's Chromium draws it.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const report = resolve(process.argv[2] ?? '.local/run/report/report.html');
const out = resolve(process.argv[3] ?? 'docs/img/report.png');
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(report)) {
  console.error(`${report} is missing: run \`npm start\` first, which writes the report of the sample data there`);
  process.exit(2);
}
if (!existsSync(executablePath)) {
  console.error(`${executablePath} is missing: \`node scripts/ensure-browser.mjs\` installs Debian's chromium`);
  process.exit(2);
}
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(pathToFileURL(report).href, { waitUntil: 'load' });
  await page.screenshot({ path: out, clip: { x: 0, y: 0, width: 1280, height: 1500 }, fullPage: true });
  console.log(`wrote ${out} from ${report}`);
} finally {
  await browser.close();
}
