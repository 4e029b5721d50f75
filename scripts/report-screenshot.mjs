#!/usr/bin/env node
// The README's screenshot of the report, from the real sample data: run `npm start` first (it
// writes .local/run/report/report.html), then `npm run -s screenshot`. Debian's Chromium draws it.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const report = resolve(process.argv[2] ?? '.local/run/report/report.html');
const out = resolve(process.argv[3] ?? 'docs/img/report.png');
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(report)) {
  console.error(`${report} is missing: run \`npm start\` first, which writes the report of the sample data there`);
  process.exit(2);
}
// The picture is what a user's report looks like: topics as a user names them (rap.*), never with
// the prefix a test or a shared stack used to keep its topics apart (an earlier picture showed shot.rap.*).
const data = join(dirname(report), 'report.json');
if (!existsSync(data)) {
  console.error(`${data} is missing: the report's data is written beside report.html`);
  process.exit(2);
}
const prefixed = Object.keys(JSON.parse(readFileSync(data, 'utf8')).counts?.recordsProduced ?? {}).filter((t) => !t.startsWith('rap.'));
if (prefixed.length > 0) {
  console.error(`${report} was made with a topic prefix (${prefixed.join(', ')}): make it with KAFKA_TOPIC_PREFIX unset, so the picture shows the topics a user has`);
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
