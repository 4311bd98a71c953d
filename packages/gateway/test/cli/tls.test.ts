import { spawnSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { makeCert } from '../support/tls.js';
import { CLI, cliScope, configFor, freePort, sleep } from './cliHarness.js';

const { dir, upstream, start } = cliScope();
let a: string;
beforeAll(async () => {
  a = (await upstream('a')).url;
});

describe('webtier-gateway --check with TLS listeners', () => {
  it('validates TLS files: prints subject and expiry, warns under 14 days, fails on a mismatched pair', () => {
    const good = makeCert(join(dir, 'tls'), 'good', ['mail.example.org']);
    const soon = makeCert(join(dir, 'tls'), 'soon', ['autodiscover.example.org'], { days: 5 });
    const file = join(dir, 'tls.yaml');
    const tlsListener = (certFile: string, keyFile: string) => ({ host: '127.0.0.1', port: 8443, tls: { certFile, keyFile, sni: [{ serverNames: ['autodiscover.example.org'], certFile: soon.certFile, keyFile: soon.keyFile }] } });
    writeFileSync(file, stringify({ ...configFor(8080, 9901, ['http://10.0.0.11:8000']), listeners: [tlsListener(good.certFile, good.keyFile)] }));
    const ok = spawnSync(process.execPath, [CLI, '--config', file, '--check'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`listeners\\[0\\] ${good.certFile}: CN=mail.example.org \\(mail.example.org\\), expires \\d{4}-\\d\\d-\\d\\dT.* \\(29 days\\)`));
    expect(ok.stderr).toMatch(/warning: .*soon\.crt expires in 4 days/);
    writeFileSync(file, stringify({ ...configFor(8080, 9901, ['http://10.0.0.11:8000']), listeners: [tlsListener(good.certFile, soon.keyFile)] }));
    const bad = spawnSync(process.execPath, [CLI, '--config', file, '--check'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`listeners[0].tls: GW_ERR_TLS: ${soon.keyFile} is not the key of ${good.certFile}`);
  });
});

describe.each([1, 2])('SIGHUP certificate swap, --workers %i', (workers) => {
  it('new connections get the new certificate; a mismatched pair is refused and the old one stays', async () => {
    const one = makeCert(join(dir, `tls-${workers}`), 'one', ['localhost']);
    const two = makeCert(join(dir, `tls-${workers}`), 'two', ['localhost']);
    const live = { certFile: join(dir, `tls-${workers}`, 'live.crt'), keyFile: join(dir, `tls-${workers}`, 'live.key') };
    const use = (c: { certFile: string; keyFile: string }) => {
      copyFileSync(c.certFile, live.certFile);
      copyFileSync(c.keyFile, live.keyFile);
    };
    use(one);
    const [port, adminPort] = [await freePort(), await freePort()];
    const file = join(dir, `tls-reload-${workers}.yaml`);
    writeFileSync(file, stringify({ ...configFor(port, adminPort, [a]), listeners: [{ host: '127.0.0.1', port, tls: live }] }));
    const gw = await start(file, port, adminPort, ['--workers', String(workers)]);
    // /readyz answers once one worker listens; the swap below is for every worker, so wait for all
    // of them (a second worker that read the files after the test had put a mismatched pair in
    // place could not start, and the gateway stopped).
    const up = Date.now() + 15_000;
    while (!gw.output().includes('"msg":"gateway listening"') && Date.now() < up) await sleep(50);
    expect(gw.output()).toContain('"msg":"gateway listening"');
    const fingerprint = () =>
      new Promise<string>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
          resolve(s.getPeerCertificate().fingerprint256);
          s.end();
        });
        s.once('error', reject);
      });
    // Every worker must serve the new certificate: several connections land on different workers.
    const all = async () => new Set(await Promise.all(Array.from({ length: 6 }, fingerprint)));
    expect(await all()).toEqual(new Set([one.fingerprint256]));
    use(two);
    gw.child.kill('SIGHUP');
    // Each worker reloads on its own IPC message: wait (bounded) until every connection of a batch
    // gets the new certificate, not just the first one.
    const deadline = Date.now() + 5000;
    let seen = await all();
    while (!(seen.size === 1 && seen.has(two.fingerprint256)) && Date.now() < deadline) {
      await sleep(50);
      seen = await all();
    }
    expect(seen).toEqual(new Set([two.fingerprint256]));
    expect(await all()).toEqual(new Set([two.fingerprint256]));
    copyFileSync(one.keyFile, live.keyFile);
    gw.child.kill('SIGHUP');
    const until = Date.now() + 5000;
    while (!gw.output().includes('is not the key of') && Date.now() < until) await sleep(50);
    expect(gw.output()).toContain('is not the key of');
    expect(await all()).toEqual(new Set([two.fingerprint256]));
    gw.child.kill('SIGTERM');
    expect(await gw.exit).toEqual({ code: 0, signal: null });
  });
});
