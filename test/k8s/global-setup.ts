// The k8s suites need the local Kubernetes running (`npx rapflow k8s up`, as root; .ci/run starts
// it). They never start it themselves (it changes the host), and say loudly when it is not there.
import { rapflow } from './cluster.js';

export default function setup(): void {
  const r = rapflow(['k8s', 'status'], {}, 60_000);
  if (r.code !== 0) {
    throw new Error(
      `THE KUBERNETES SUITES DID NOT RUN: the local Kubernetes is not up.\n${r.stdout}${r.stderr}\n` +
        'Start it with `npx rapflow k8s up` (root; the first start builds it, about 6 min here), then run `npm run test:k8s` again.',
    );
  }
  process.stderr.write(`[k8s] cluster up:\n${r.stdout}\n`);
}
