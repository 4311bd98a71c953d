// `npm run bench`: every benchmark in sequence, each in its own `tsx` child (a fresh heap and JIT
// per benchmark), sized to finish in under 10 minutes on a 2-core machine; then the charts and
// docs/benchmarks.md are regenerated from the results. A failing benchmark does not stop the
// others; the exit code says whether all passed.
//
//   npm run bench                 the full suite (~7 minutes on 2 cores)
//   tsx benchmarks/all.ts --quick shorter runs (~4 minutes): failover 30 s per system
//   tsx benchmarks/all.ts --only gateway,failover
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { renderAllCharts } from './charts.js';
import { writeDocs } from './docs.js';
import { formatMachine } from './lib/report.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const TSX_CLI = join(dirname(require.resolve('tsx/package.json')), 'dist', 'cli.mjs');

interface Step {
  name: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  process.stdout.write('tsx benchmarks/all.ts [--quick] [--only ring,store,gateway,failover]\n');
  process.exit(0);
}
const quick = values.quick ?? false;
const STEPS: Step[] = [
  { name: 'ring', args: [] },
  // 3 interleaved rounds of 1.5 s per operation: ~70 s.
  { name: 'store', args: [], env: { PHASE_MS: quick ? '1000' : '1500', ROUNDS: quick ? '2' : '3' } },
  { name: 'gateway', args: ['--duration', quick ? '5' : '8', '--warmup', '2'] },
  // 4 systems × (start + 8 s warm-up + 60 s + stop): ~5 minutes.
  { name: 'failover', args: quick ? ['--duration', '30', '--warmup', '4'] : ['--duration', '60', '--warmup', '8'] },
];
const only = values.only?.split(',').map((s) => s.trim());
for (const name of only ?? []) {
  if (!STEPS.some((s) => s.name === name)) {
    process.stderr.write(`all: --only: unknown benchmark "${name}"; known: ${STEPS.map((s) => s.name).join(', ')}\n`);
    process.exit(2);
  }
}
const steps = STEPS.filter((s) => !only || only.includes(s.name));

function run(step: Step): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TSX_CLI, join(here, `${step.name}.ts`), ...step.args], { stdio: 'inherit', env: { ...process.env, ...step.env } });
    // Ctrl-C reaches the child too (same process group); wait for it to clean up.
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const t0 = Date.now();
console.log(`webtier benchmarks on ${formatMachine()}: ${steps.map((s) => s.name).join(', ')}${quick ? ' (quick)' : ''}`);
const outcome: Array<{ name: string; code: number; seconds: number }> = [];
for (const step of steps) {
  console.log(`\n=== ${step.name}: tsx benchmarks/${step.name}.ts ${step.args.join(' ')} ===`);
  const started = Date.now();
  const code = await run(step);
  outcome.push({ name: step.name, code, seconds: Math.round((Date.now() - started) / 1000) });
}
console.log('\n=== charts and docs ===');
for (const f of renderAllCharts()) console.log(`wrote ${f}`);
console.log(`wrote ${writeDocs()}`);
console.log(`\n${outcome.map((o) => `${o.name}: ${o.code === 0 ? 'ok' : `FAILED (exit ${o.code})`} in ${o.seconds} s`).join('\n')}`);
console.log(`total ${Math.round((Date.now() - t0) / 1000)} s`);
if (outcome.some((o) => o.code !== 0)) process.exitCode = 1;
