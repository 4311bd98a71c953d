#!/usr/bin/env node
// Type-checks every test folder (vitest strips types without checking them) and the benchmarks.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const projects = ['test/tsconfig.json', 'benchmarks/tsconfig.json'];
for (const group of ['packages', 'apps']) {
  for (const name of readdirSync(group)) projects.push(join(group, name, 'test', 'tsconfig.json'));
}
let failed = 0;
for (const project of projects.filter((p) => existsSync(p))) {
  try {
    execFileSync(process.execPath, [tsc, '-p', project, '--noEmit'], { stdio: 'inherit' });
  } catch {
    failed++;
    console.error(`typecheck: ${project} has type errors (above)`);
  }
}
if (failed > 0) process.exit(1);
console.log(`typecheck: ${projects.filter((p) => existsSync(p)).length} test/benchmark projects clean`);
