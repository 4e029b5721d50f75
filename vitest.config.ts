// Projects: pure unit tests; offline checks of the Kubernetes manifests, GitHub workflows and
// Dockerfile (tools from scripts/k8s/tools.sh); integration tests against the real local stack;
// the fault scenarios (npm run test:faults), the cluster's (npm run test:cluster, RAPFLOW_NODES=3),
// and the local Kubernetes' (npm run test:k8s, after `rapflow k8s up`).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'manifests',
          include: ['test/manifests/**/*.test.ts'],
          environment: 'node',
          // helm, kubeconform and argo are processes of a second or so each.
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
          // Suites share one stack; they isolate by unique names, and two cores do not
          // gain from running JVM-bound suites in parallel.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'k8s',
          include: ['test/k8s/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/k8s/global-setup.ts'],
          testTimeout: 600_000,
          hookTimeout: 900_000,
          // One cluster, one namespace per suite; two cores.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 420_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
