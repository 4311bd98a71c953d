#!/usr/bin/env node
// Builds one workspace package twice: ESM with declarations (tsc -b, project references)
// and CommonJS (tsconfig.cjs.json), so that both `import` and `require` work on Node 20.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
const cwd = process.cwd();
const run = (args) => execFileSync(process.execPath, [tsc, ...args], { stdio: 'inherit', cwd });

run(['-b', 'tsconfig.json']);
if (existsSync(join(cwd, 'tsconfig.cjs.json'))) {
  run(['-p', 'tsconfig.cjs.json']);
  mkdirSync(join(cwd, 'dist/cjs'), { recursive: true });
  // The package is "type": "module"; this marks dist/cjs as CommonJS for Node's loader.
  writeFileSync(join(cwd, 'dist/cjs/package.json'), '{ "type": "commonjs" }\n');
}
