// "Every package can be imported with ESM import and CommonJS require on Node 20": for each
// workspace under packages/ whose exports map has a "require" condition, a child `node` process
// loads every such entry point both ways and reports what it got. A child, not vitest's own module
// loader, so the answer is plain Node's. Runs after `turbo run build`: an unbuilt package fails
// here with the file it is missing, it is never skipped.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

interface Entry {
  /** e.g. "@webtier/hash-ring" or "@webtier/x/sub" */
  specifier: string;
  /** Absolute paths the exports map names for the two conditions. */
  importFile: string;
  requireFile: string;
}

interface Workspace {
  dir: string;
  name: string;
  entries: Entry[];
}

type ExportsValue = string | null | { [key: string]: ExportsValue } | ExportsValue[];

/** The file a condition's value points at: a string, or an object's "default" (nested conditions). */
function conditionTarget(value: ExportsValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return conditionTarget(value['node'] ?? value['default']);
  }
  return undefined;
}

/** Workspaces under packages/ with at least one exports entry that has a "require" condition. */
function discover(): Workspace[] {
  const out: Workspace[] = [];
  const packagesDir = join(root, 'packages');
  for (const dirName of readdirSync(packagesDir).sort()) {
    const pkgFile = join(packagesDir, dirName, 'package.json');
    if (!existsSync(pkgFile)) continue;
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { name: string; exports?: ExportsValue };
    if (pkg.exports === undefined || pkg.exports === null || typeof pkg.exports !== 'object' || Array.isArray(pkg.exports)) continue;
    // An exports object whose keys are conditions (no "." keys) is the "." entry written short.
    const keys = Object.keys(pkg.exports);
    const subpaths: Record<string, ExportsValue> = keys.some((k) => k.startsWith('.')) ? pkg.exports : { '.': pkg.exports };
    const entries: Entry[] = [];
    for (const [subpath, value] of Object.entries(subpaths)) {
      if (value === null || typeof value !== 'object' || Array.isArray(value) || !('require' in value)) continue;
      const importTarget = conditionTarget(value['import'] ?? value['default']);
      const requireTarget = conditionTarget(value['require']);
      if (importTarget === undefined || requireTarget === undefined) {
        throw new Error(`packages/${dirName}/package.json: exports["${subpath}"] has "require" but no file for both "import" and "require"`);
      }
      entries.push({
        specifier: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`,
        importFile: resolve(packagesDir, dirName, importTarget),
        requireFile: resolve(packagesDir, dirName, requireTarget),
      });
    }
    if (entries.length > 0) out.push({ dir: `packages/${dirName}`, name: pkg.name, entries });
  }
  return out;
}

// Runs in the child: resolves and loads the specifier both ways, prints a JSON report.
const probe = `
import { createRequire } from 'node:module';
const specifier = process.argv[1];
const require = createRequire(process.cwd() + '/probe.cjs');
const describe = (ns, skip) => Object.keys(ns).filter((k) => k !== skip).sort().map((k) => [k, typeof ns[k]]);
const report = { requireResolved: require.resolve(specifier), importResolved: import.meta.resolve(specifier) };
const cjs = require(specifier);
const esm = await import(specifier);
report.cjs = describe(cjs, '__esModule');
report.esm = describe(esm, 'default');
report.cjsLoadedAsCommonJS = require.cache[report.requireResolved] !== undefined;
report.distinctBuilds = report.cjs.filter(([k, t]) => t === 'function' && cjs[k] !== esm[k]).length;
process.stdout.write(JSON.stringify(report));
`;

interface Report {
  requireResolved: string;
  importResolved: string;
  cjs: Array<[string, string]>;
  esm: Array<[string, string]>;
  cjsLoadedAsCommonJS: boolean;
  distinctBuilds: number;
}

function runProbe(specifier: string): Promise<Report> {
  return new Promise((resolvePromise, reject) => {
    // --no-experimental-require-module: Node 20.19+ can require() ES modules; switching that off
    // proves require() gets the CommonJS build, as on every Node 20 release.
    execFile(
      process.execPath,
      ['--no-experimental-require-module', '--input-type=module', '-e', probe, specifier],
      { cwd: root, timeout: 20_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`loading ${specifier} failed in node ${process.version}:\n${stderr || err.message}`));
        else resolvePromise(JSON.parse(stdout) as Report);
      },
    );
  });
}

const workspaces = discover();

describe('every package loads with ESM import and CommonJS require on Node 20', () => {
  it('finds the dual-format packages (at least @webtier/hash-ring)', () => {
    expect(workspaces.map((w) => w.name)).toContain('@webtier/hash-ring');
  });

  for (const workspace of workspaces) {
    for (const entry of workspace.entries) {
      it(`${entry.specifier} (${workspace.dir}): import() and require() expose the same named exports`, async () => {
        for (const file of [entry.importFile, entry.requireFile]) {
          if (!existsSync(file)) {
            throw new Error(`${workspace.name}: ${file.slice(root.length + 1)} is missing; build first (npm run build, or npx turbo run build --filter=${workspace.name})`);
          }
        }
        const report = await runProbe(entry.specifier);
        expect(report.importResolved).toBe(pathToFileURL(entry.importFile).href);
        expect(report.requireResolved).toBe(entry.requireFile);
        expect(report.cjsLoadedAsCommonJS).toBe(true);
        expect(report.esm.length).toBeGreaterThan(0);
        expect(report.cjs).toEqual(report.esm);
        // Two builds, not one module reached twice: every exported function exists in each.
        expect(report.distinctBuilds).toBe(report.cjs.filter(([, type]) => type === 'function').length);
      });
    }
  }
});
