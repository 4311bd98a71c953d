import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import * as gateway from '../src/index.js';
import { createGateway, GatewayErrorCodes, validateConfig, webtierGateway } from '../src/index.js';
import { startUpstream, type TestUpstream } from './support/upstreams.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/issue-4-example.yaml', import.meta.url));
const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gw-api-'));
let up: TestUpstream;

/** A one-cluster config in a YAML file, pointing at the loopback upstream. */
function configFile(): string {
  const file = join(dir, 'one.yaml');
  writeFileSync(
    file,
    ['logLevel: silent', 'listeners: [ { host: 127.0.0.1, port: 0 } ]', 'routes: [ { match: { prefix: / }, cluster: web } ]', `clusters: { web: { endpoints: [ { url: ${up.url} } ] } }`].join('\n'),
  );
  return file;
}

beforeAll(async () => {
  up = await startUpstream('web-1');
});

afterAll(async () => {
  await up?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('validateConfig', () => {
  it("returns no problem for issue 4's example", () => {
    expect(validateConfig(parse(readFileSync(FIXTURE, 'utf8')))).toEqual([]);
  });

  it('returns every problem by path without throwing', () => {
    const bad = parse(readFileSync(FIXTURE, 'utf8')) as { clusters: { webmail: { endpoints: Array<Record<string, unknown>> } }; routes: Array<{ cluster: string }> };
    bad.clusters.webmail.endpoints[1]!['weight'] = 0;
    bad.clusters.webmail.endpoints[0]!['wieght'] = 2;
    bad.routes[2]!.cluster = 'static';
    expect(validateConfig(bad)).toEqual([
      { path: 'clusters.webmail.endpoints[0].wieght', message: expect.stringContaining('unknown key') },
      { path: 'clusters.webmail.endpoints[1].weight', message: 'expected a positive integer' },
      { path: 'routes[2].cluster', message: expect.stringContaining('no cluster named "static"') },
    ]);
  });
});

describe('createGateway', () => {
  it('takes a config file path and returns the fastify instance, not listening yet', async () => {
    const app = await createGateway(configFile());
    try {
      expect(app.server.listening).toBe(false);
      const res = await app.inject({ method: 'GET', url: '/hello?x=1' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-upstream']).toBe('web-1');
      expect((res.json() as { url: string }).url).toBe('/hello?x=1');
    } finally {
      await app.close();
    }
  });

  it('names the file when it cannot be read (GW_ERR_CONFIG_READ)', async () => {
    await expect(createGateway(join(dir, 'missing.yaml'))).rejects.toMatchObject({ code: GatewayErrorCodes.CONFIG_READ, message: expect.stringContaining('missing.yaml') });
  });
});

describe('webtierGateway plugin', () => {
  it("proxies inside someone's fastify app, next to the app's own routes", async () => {
    const app = Fastify();
    app.get('/own', async () => ({ own: true }));
    await app.register(webtierGateway, { config: configFile() });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      const own = await fetch(`${base}/own`);
      expect(await own.json()).toEqual({ own: true });
      expect(own.headers.get('x-upstream')).toBeNull();
      const proxied = await fetch(`${base}/mail/?_task=mail`, { method: 'POST', body: 'a=1' });
      expect(proxied.status).toBe(200);
      expect(proxied.headers.get('x-upstream')).toBe('web-1');
      expect(await proxied.json()).toMatchObject({ method: 'POST', url: '/mail/?_task=mail', body: 'a=1' });
    } finally {
      await app.close();
    }
  });
});

describe('package entry points', () => {
  it('the built package loads with require (CJS) and import (ESM) and exports the same names as src/index.ts', () => {
    const script = `
      const cjs = require(${JSON.stringify(join(PACKAGE, 'dist/cjs/index.js'))});
      import(${JSON.stringify(join(PACKAGE, 'dist/esm/index.js'))}).then((esm) => {
        console.log(JSON.stringify({ cjs: Object.keys(cjs).sort(), esm: Object.keys(esm).sort() }));
      });`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    const { cjs, esm } = JSON.parse(r.stdout) as { cjs: string[]; esm: string[] };
    const names = Object.keys(gateway).sort();
    expect(esm).toEqual(names);
    expect(cjs).toEqual(names);
    expect(cjs).toEqual(expect.arrayContaining(['createGateway', 'startGateway', 'webtierGateway', 'loadConfig', 'parseConfig', 'validateConfig']));
  });
});
