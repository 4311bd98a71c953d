#!/usr/bin/env node
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { helpOrUnknown, reapPidDir, runMain } from '@webtier/testkit';
import { hashPassword } from '@webtier/demo-mail';
import type { NodeInfo } from './ChildApp.js';
import { callLauncher, ControlServer, processAlive, readState, stateFile } from './ControlServer.js';
import { DemoError, DemoErrorCodes } from './errors.js';
import { keysHelp, nodeKeys } from './keys.js';
import { gatewayHealth, statusTable } from './statusTable.js';
import { startTopology, type DemoTopology } from './Topology.js';

const USAGE = `webtier: the demo web tier on one machine

  webtier up [topology.yaml] [--https-port 8443] [--port 8080] [--admin-port 9901] [--keep-logs]
      start memcached pairs, webmail, ActiveSync and asset nodes and the gateway (HTTPS on 8443 with a
      self-signed certificate made at start, HTTP on 8080 redirects to it); Ctrl-C stops all
  webtier status [--json]                 the nodes of the running demo
  webtier kill <node>                     SIGKILL a node, e.g. memcached-2 or webmail-1
  webtier restart <node>                  start a killed node again (memcached comes back empty)
  webtier freeze|thaw <memcached-N>       SIGSTOP / SIGCONT a memcached node
  webtier stop                            stop the running demo
  webtier hash-password <password>        a users.json password hash (scrypt)
`;

// In raw mode (keys) the terminal no longer turns \n into \r\n: do it here, or lines staircase.
let rawMode = false;
const out = (line: string): void => void process.stdout.write(rawMode ? `${line.replace(/\n/g, '\r\n')}\r\n` : `${line}\n`);

async function up(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { port: { type: 'string' }, 'https-port': { type: 'string' }, 'admin-port': { type: 'string' }, 'keep-logs': { type: 'boolean' } } });
  if (positionals.length > 1) throw new DemoError(DemoErrorCodes.BAD_ARGS, `up takes at most one topology file, got ${positionals.join(' ')}`);
  const port = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) > 65535) throw new DemoError(DemoErrorCodes.BAD_ARGS, `${name}: "${v}" is not a port number`);
    return Number(v);
  };
  const file = stateFile();
  const previous = readState(file);
  if (previous && processAlive(previous.pid)) {
    throw new DemoError(DemoErrorCodes.ALREADY_RUNNING, `a demo is already running (launcher pid ${previous.pid}, ${previous.url}); stop it with Ctrl-C in its terminal or \`npm run webtier -- stop\``);
  }
  if (previous?.pidDir) {
    // The previous launcher died without cleaning up (SIGKILL?): its memcached processes may remain.
    const reaped = reapPidDir(previous.pidDir);
    if (reaped.length > 0) out(`reaped ${reaped.length} process(es) left by a previous demo that did not stop cleanly: ${reaped.join(', ')}`);
    rmSync(previous.pidDir, { recursive: true, force: true });
  }
  rmSync(file, { force: true });
  const ownPidDir = process.env['WEBTIER_PID_DIR'] ? undefined : mkdtempSync(join(tmpdir(), 'webtier-demo-pids-'));
  if (ownPidDir) process.env['WEBTIER_PID_DIR'] = ownPidDir;

  const topology = await startTopology({
    ...(positionals[0] ? { topologyFile: positionals[0] } : {}),
    ...(values.port !== undefined ? { port: port('--port', values.port)! } : {}),
    ...(values['https-port'] !== undefined ? { httpsPort: port('--https-port', values['https-port'])! } : {}),
    ...(values['admin-port'] !== undefined ? { adminPort: port('--admin-port', values['admin-port'])! } : {}),
    keepRunDir: values['keep-logs'] ?? false,
    installMemcached: true,
    log: (line) => out(`  ${line}`),
  });
  let stopping: Promise<void> | undefined;
  const shutdown = (why: string) => {
    stopping ??= (async () => {
      out(`\n${why}: stopping every node...`);
      if (process.stdin.isTTY) process.stdin.setRawMode(false);
      rawMode = false;
      process.stdin.pause();
      await control.close().catch(() => {});
      await topology.stop();
      if (ownPidDir) rmSync(ownPidDir, { recursive: true, force: true });
      out('all stopped.');
      process.exit(0);
    })();
    return stopping;
  };
  const control = new ControlServer(topology, () => void shutdown('stop requested'), (action, info) => out(`⚡ ${action}: ${info.name} is now ${info.state}`));
  await control.start(topology, ownPidDir);
  // testkit's signal hook SIGKILLs every tracked process at once (right for test workers); the launcher
  // stops them itself, gateway first so that it drains. testkit's exit hook stays as the safety net.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => void shutdown(signal));
  }
  topology.on('crash', (n) => {
    out(`✗ ${n.name} exited unexpectedly (${n.signal ? `signal ${n.signal}` : `exit code ${n.code}`}); not restarted, so that you can see it.`);
    if (n.tail) out(n.tail.split('\n').slice(-5).map((l) => `    ${l}`).join('\n'));
    out(`  bring it back with: npm run webtier -- restart ${n.name}`);
  });

  const keys = nodeKeys(topology.nodes());
  banner(topology, keys);
  if (process.stdin.isTTY && !process.env['CI']) listenForKeys(topology, keys, shutdown);
}

function banner(t: DemoTopology, keys: Map<string, string>): void {
  const mc = t.memcachedServers.map((s) => `${t.nameOf(s)} ${s}`);
  const pairs = t.topology.memcached.mode === 'pairs' ? mc.reduce<string[]>((acc, s, i) => (i % 2 ? [...acc.slice(0, -1), `${acc.at(-1)} + ${s}`] : [...acc, s]), []).map((p) => `(${p})`) : mc;
  out('');
  out(statusTable(t.nodes(), process.stdin.isTTY ? keys : undefined));
  out('');
  out(`webtier demo is up. ${t.topology.memcached.mode === 'pairs' ? 'memcached pairs' : 'memcached ring'}: ${pairs.join(' ')}`);
  out('');
  out(`  Open the webmail:        ${t.url}/   (${t.httpUrl}/ redirects there)`);
  out(`  The certificate is self-signed (made at start for localhost and 127.0.0.1, valid until ${t.certificate.validTo.toISOString().slice(0, 10)}):`);
  out(`    your browser warns once; accept it, or trust ${t.certificate.certFile}`);
  out(`    (curl --cacert ${t.certificate.certFile} ${t.url}/login). It is new on every start.`);
  out(`  Gateway status page:     ${t.statusUrl}   (JSON: curl -H 'accept: application/json' ${t.statusUrl})`);
  out(`  Gateway metrics:         ${t.adminUrl}/metrics`);
  out(`  ActiveSync:              ${t.url}/Microsoft-Server-ActiveSync`);
  out(`  Demo logins:             ${t.logins.map((l) => `${l.user} / ${l.password}`).join(', ')}`);
  out(`  Logs:                    ${t.runDir}/logs`);
  out('');
  out('  Break something from another terminal and watch the page footer and the status page:');
  out('    npm run webtier -- kill memcached-2      npm run webtier -- restart memcached-2');
  out('    npm run webtier -- kill webmail-1        npm run webtier -- status');
  if (process.stdin.isTTY && !process.env['CI']) out(`  ${keysHelp(keys)}`);
  out('  Ctrl-C stops everything.');
}

function listenForKeys(t: DemoTopology, keys: Map<string, string>, shutdown: (why: string) => Promise<void>): void {
  const byKey = new Map([...keys].map(([name, k]) => [k, name]));
  let busy = false;
  process.stdin.setRawMode(true);
  rawMode = true;
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (key: string) => {
    if (key === '\u0003' || key === 'q') return void shutdown('quit');
    if (key === 's') return void t.gatewayStatus().then((g) => out(`\n${statusTable(t.nodes(), keys, g ? gatewayHealth(g) : undefined)}`));
    if (key === 'h') return out(keysHelp(keys));
    const name = byKey.get(key);
    if (!name || busy) return;
    busy = true;
    const node = t.node(name);
    const down = node.state === 'killed' || node.state === 'crashed' || node.state === 'stopped';
    const action: Promise<NodeInfo> = down ? t.restart(name) : t.kill(name);
    out(`⚡ ${down ? 'restarting' : 'killing'} ${name}...`);
    action
      .then((info) => out(`⚡ ${info.name} is now ${info.state}`))
      .catch((err: Error) => out(`✗ ${name}: ${err.message}`))
      .finally(() => (busy = false));
  });
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  switch (command) {
    case 'up':
      return up(rest);
    case 'status': {
      const json = rest.includes('--json');
      const status = (await callLauncher('GET', '/status')) as { url: string; certFile: string; statusUrl: string; nodes: NodeInfo[]; gateway?: unknown };
      if (json) return out(JSON.stringify(status, null, 2));
      out(statusTable(status.nodes, undefined, status.gateway ? gatewayHealth(status.gateway) : undefined));
      out(`\nwebmail: ${status.url}/ (self-signed: ${status.certFile})   gateway status: ${status.statusUrl}`);
      return;
    }
    case 'kill':
    case 'restart':
    case 'freeze':
    case 'thaw': {
      const name = rest[0];
      if (!name || rest.length > 1) throw new DemoError(DemoErrorCodes.BAD_ARGS, `usage: webtier ${command} <node>, e.g. webtier ${command} memcached-2`);
      const info = (await callLauncher('POST', `/nodes/${encodeURIComponent(name)}/${command}`)) as NodeInfo;
      return out(`${info.name}: ${info.state}${info.pid ? ` (pid ${info.pid})` : ''}`);
    }
    case 'stop':
      await callLauncher('POST', '/stop');
      return out('the demo is stopping.');
    case 'hash-password': {
      if (!rest[0]) throw new DemoError(DemoErrorCodes.BAD_ARGS, 'usage: webtier hash-password <password>');
      return out(await hashPassword(rest[0]));
    }
    default:
      return helpOrUnknown(command, USAGE, (m) => new DemoError(DemoErrorCodes.BAD_ARGS, m));
  }
}

runMain('webtier', main);
