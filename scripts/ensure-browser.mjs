// Before `npm test`: the report's browser test drives Debian's Chromium (with CJK fonts for the
// sample lyrics). Installs them with apt when they are missing and we may (root, or sudo without
// a password); otherwise says what to run. CHROMIUM_PATH points the test at another Chromium.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const fonts = spawnSync('sh', ['-c', "fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'"]).status === 0;
if (!existsSync(chromium) || (!process.env.CHROMIUM_PATH && !fonts)) {
  const packages = ['chromium', 'fonts-noto-cjk'];
  const root = process.getuid?.() === 0;
  const sudo = !root && spawnSync('sudo', ['-n', 'true']).status === 0;
  if (!root && !sudo) {
    process.stderr.write(`rapflow: the browser test needs Chromium: run \`sudo apt-get install ${packages.join(' ')}\` (or set CHROMIUM_PATH)\n`);
  } else {
    process.stderr.write(`rapflow: installing ${packages.join(', ')} from Debian (apt) for the browser test...\n`);
    const run = (args) => spawnSync(sudo ? 'sudo' : args[0], sudo ? args : args.slice(1), { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    const ok = run(['apt-get', 'update', '-qq']).status === 0 && run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...packages]).status === 0;
    if (!ok) process.stderr.write('rapflow: apt could not install Chromium; the browser test will say so\n');
  }
}
