// deploy/systemd/webtier-gateway.service: the directives an operator relies on, and its command
// lines run exactly as written (the bin name and the config path substituted, $MAINPID the real pid).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CLI, cliScope, configFor, freePort, sleep, who, type CliUpstream } from './cliHarness.js';

const UNIT = fileURLToPath(new URL('../../deploy/systemd/webtier-gateway.service', import.meta.url));
const text = readFileSync(UNIT, 'utf8');
const directives = new Map<string, string[]>();
for (const line of text.split('\n')) {
  const m = /^([A-Za-z]+)=(.*)$/.exec(line);
  if (m) directives.set(m[1]!, [...(directives.get(m[1]!) ?? []), m[2]!]);
}
const one = (key: string) => directives.get(key)?.at(-1);

const { dir, upstream, start } = cliScope();
let a: CliUpstream;
let b: CliUpstream;
beforeAll(async () => {
  [a, b] = [await upstream('a'), await upstream('b')];
});

/** A unit command line as argv, with the installed bin and /etc/webtier/gateway.yaml replaced by this repository's. */
function argv(line: string, config: string, mainPid?: number): string[] {
  expect(line).not.toMatch(/["'\\]/); // plain words: splitting on spaces is what systemd does here
  return line
    .split(/\s+/)
    .flatMap((w) => (w === 'webtier-gateway' ? [process.execPath, CLI] : [w === '/etc/webtier/gateway.yaml' ? config : w === '$MAINPID' ? String(mainPid) : w]));
}

describe('deploy/systemd/webtier-gateway.service', () => {
  const table: Array<{ key: string; expected: RegExp }> = [
    { key: 'Type', expected: /^(exec|notify)$/ },
    { key: 'ExecStart', expected: /^webtier-gateway --config \/etc\/webtier\/gateway\.yaml$/ },
    { key: 'ExecReload', expected: /^\/bin\/kill -HUP \$MAINPID$/ },
    { key: 'DynamicUser', expected: /^yes$/ },
    { key: 'AmbientCapabilities', expected: /^CAP_NET_BIND_SERVICE$/ },
    { key: 'ProtectSystem', expected: /^strict$/ },
    { key: 'NoNewPrivileges', expected: /^yes$/ },
    { key: 'Restart', expected: /^on-failure$/ },
    { key: 'RestartPreventExitStatus', expected: /^1 2$/ },
    { key: 'LimitNOFILE', expected: /^\d{5,}$/ },
    { key: 'KillSignal', expected: /^SIGTERM$/ },
  ];
  for (const { key, expected } of table) it(`${key}=${expected.source}`, () => expect(one(key)).toMatch(expected));

  it('TimeoutStopSec leaves room for the default drainTimeoutMs (30 s)', () => {
    expect(Number(one('TimeoutStopSec'))).toBeGreaterThan(30);
  });

  it('ExecStartPre, ExecStart and both ExecReload lines work as written: check, serve, check + SIGHUP reloads, SIGTERM drains', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, stringify(configFor(port, adminPort, [a.url])));
    const pre = argv(directives.get('ExecStartPre')![0]!, config);
    const check = spawnSync(pre[0]!, pre.slice(1), { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);

    const exec = argv(one('ExecStart')!, config);
    expect(exec.slice(-2)).toEqual(['--config', config]);
    // cliScope.start appends --config <file>: pass the unit's words before it.
    const gw = await start(config, port, adminPort, [], exec.slice(0, -2));
    expect(await who(gw.base)).toBe('a');

    writeFileSync(config, stringify(configFor(port, adminPort, [b.url])));
    for (const line of directives.get('ExecReload')!) {
      const cmd = argv(line, config, gw.child.pid);
      const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
      expect({ line, status: r.status, stderr: r.stderr }).toEqual({ line, status: 0, stderr: '' });
    }
    const deadline = Date.now() + 5000;
    while ((await who(gw.base)) !== 'b' && Date.now() < deadline) await sleep(50);
    expect(await who(gw.base)).toBe('b');

    process.kill(gw.child.pid!, one('KillSignal') as NodeJS.Signals);
    expect(await gw.exit).toEqual({ code: 0, signal: null });
  });

  it('systemd-analyze verify finds nothing to report (the bin path pointed at this repository)', () => {
    const which = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' });
    if (which.status !== 0) throw new Error('systemd-analyze is missing: install the Debian package "systemd" (.ci/run does)');
    const unitDir = mkdtempSync(join(tmpdir(), 'gw-unit-'));
    const unit = join(unitDir, 'webtier-gateway.service');
    writeFileSync(unit, text.replace(/^(Exec\w+=)webtier-gateway /gm, `$1${CLI} `));
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', unit], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });
});

