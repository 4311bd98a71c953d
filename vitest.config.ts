import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/support/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: more workers only add scheduling noise to timing-sensitive failover tests.
    maxWorkers: 2,
    // The JSON report lets .ci/run print a plain 'N passed, N failed' line.
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
    // The multi-host lab (apps/lab, and lab scenarios in test/) starts a dozen processes in network namespaces: it runs after every
    // other test, alone, so that its load does not make the timing-sensitive tests flaky.
    projects: [
      { extends: true, test: { name: 'webtier', include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'], exclude: ['apps/lab/**', 'test/gateway-ha-smoke.test.ts', '**/node_modules/**'], sequence: { groupOrder: 0 } } },
      // Lab files one at a time (one set of namespaces per machine; Lab.up's lock would also make them wait).
      { extends: true, test: { name: 'lab', include: ['apps/lab/test/**/*.test.ts', 'test/gateway-ha-smoke.test.ts'], fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
