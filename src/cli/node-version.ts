// The Node versions rapflow runs on, as package.json's engines say: 24 LTS from 24.6 and newer,
// and 22 from 22.22 (@platformatic/kafka's floor). scripts/node-runtime.mjs decides the same for
// the set-up scripts; a unit test keeps the two in step. No imports: main.ts runs this first.

export function nodeSupported(version: string): boolean {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map((p) => Number.parseInt(p, 10) || 0);
  if (major === 22) return minor >= 22;
  return major > 24 || (major === 24 && minor >= 6);
}

export function nodeTooOldMessage(version: string): string {
  return (
    `this is Node ${version}, and rapflow needs Node 24 LTS (or 22.22 and later): run it through npm, which uses the Node that ` +
    '`npm start` and `npm test` set up (`npm run -s rapflow -- <command>` or `npx rapflow <command>`), or install Node 24 from https://nodejs.org/en/download'
  );
}
