// Lost updates under concurrent requests of one user (issue 12): N users x M rounds of two
// overlapping requests on two web nodes (real express + express-session apps, real memcached), each
// request incrementing its own session key. Request A reads, works DELAY_MS, saves; request B starts
// a third of the way into A and saves first. Every update lost shows as a counter below M.
// Systems: connect-memjs (two web nodes), express-session's MemoryStore (one web node: it cannot be
// shared), and @webtier/session-store in 'merge' and 'last-write-wins' mode (two web nodes).
// Then the same with DELAY_MS = 0 for the throughput cost of merging (requests/s, both modes).
// Run with `npm run bench:concurrency` (builds first). Results: benchmarks/results/concurrency.{json,md}.
import { once } from 'node:events';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import session from 'express-session';
import { Agent } from 'undici';
import { MemcachedCluster } from '@webtier/testkit';
import { ReplicatedMemcachedStore } from '@webtier/session-store';
import { formatMachine, formatRatio, machineInfo, markdownTable, printTable, writeResults } from './lib/report.js';

const require = createRequire(import.meta.url);
const ConnectMemjs = require('connect-memjs')(session) as new (o: Record<string, unknown>) => session.Store;

const USERS = Number(process.env.USERS ?? 40);
const ROUNDS = Number(process.env.ROUNDS ?? 10);
const DELAY_MS = Number(process.env.DELAY_MS ?? 30);
const THROUGHPUT_ROUNDS = Number(process.env.THROUGHPUT_ROUNDS ?? 40);

interface WebNode {
  base: string;
  close(): Promise<void>;
}

async function webNode(store: session.Store): Promise<WebNode> {
  const app = express();
  app.use(session({ store, secret: 'bench-secret', resave: false, saveUninitialized: false, cookie: { maxAge: 3_600_000 } }));
  app.get('/login', (req, res) => {
    const s = req.session as unknown as Record<string, unknown>;
    s['user'] = 'u';
    s['a'] = 0;
    s['b'] = 0;
    res.json({ ok: true });
  });
  app.get('/inc', async (req, res) => {
    const delay = Number(req.query['delay'] ?? 0);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const s = req.session as unknown as Record<string, number>;
    const k = String(req.query['k']);
    s[k] = (s[k] ?? 0) + 1;
    res.json({ ok: true });
  });
  app.get('/show', (req, res) => {
    const s = req.session as unknown as Record<string, unknown>;
    res.json({ a: s['a'] ?? null, b: s['b'] ?? null });
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

interface System {
  name: string;
  note: string;
  nodes: [WebNode, WebNode];
  close(): Promise<void>;
}

const dispatcher = new Agent({ connections: 64 });

async function request(url: string, cookie: string): Promise<{ status: number; cookie: string; body: unknown }> {
  const res = await fetch(url, { headers: cookie ? { cookie } : {}, dispatcher } as RequestInit);
  const set = res.headers.getSetCookie()[0];
  const body = await res.json().catch(() => null);
  return { status: res.status, cookie: set ? set.split(';')[0]! : cookie, body };
}

async function run(sys: System, delayMs: number, rounds: number): Promise<{ system: string; updates: number; lost: number; errors: number; requestsPerSec: number }> {
  const [n1, n2] = sys.nodes;
  let errors = 0;
  const cookies: string[] = [];
  for (let u = 0; u < USERS; u++) cookies.push((await request(`${n1.base}/login`, '')).cookie);
  const started = performance.now();
  let requests = 0;
  await Promise.all(
    cookies.map(async (cookie) => {
      for (let r = 0; r < rounds; r++) {
        const a = request(`${n1.base}/inc?k=a&delay=${delayMs}`, cookie);
        if (delayMs > 0) await new Promise((res) => setTimeout(res, delayMs / 3));
        const b = request(`${n2.base}/inc?k=b`, cookie);
        const [ra, rb] = await Promise.all([a, b]);
        requests += 2;
        if (ra.status !== 200) errors++;
        if (rb.status !== 200) errors++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  let lost = 0;
  for (const cookie of cookies) {
    const shown = (await request(`${n2.base}/show`, cookie)).body as { a: number | null; b: number | null };
    lost += rounds - (shown.a ?? 0) + (rounds - (shown.b ?? 0));
  }
  return { system: sys.name, updates: USERS * rounds * 2, lost, errors, requestsPerSec: requests / elapsed };
}

async function systems(servers: string[]): Promise<System[]> {
  const out: System[] = [];
  for (const mode of ['merge', 'last-write-wins'] as const) {
    const stores = [0, 1].map(() => new ReplicatedMemcachedStore({ servers, prefix: `cc-${mode}:`, concurrentWrites: mode }));
    const nodes = (await Promise.all(stores.map(webNode))) as [WebNode, WebNode];
    out.push({ name: `webtier (concurrentWrites '${mode}')`, note: '2 web nodes, 2 copies', nodes, close: async () => (await Promise.all(nodes.map((n) => n.close())), await Promise.all(stores.map((s) => s.close()))) as unknown as void });
  }
  const cm = [0, 1].map(() => new ConnectMemjs({ servers, prefix: 'cc-cm:', logger: { log() {} } }));
  const cmNodes = (await Promise.all(cm.map(webNode))) as [WebNode, WebNode];
  out.push({
    name: 'connect-memjs',
    note: '2 web nodes, 1 copy',
    nodes: cmNodes,
    close: async () => {
      await Promise.all(cmNodes.map((n) => n.close()));
      for (const s of cm) (s as unknown as { client: { close(): void } }).client.close();
    },
  });
  const memory = new session.MemoryStore();
  const mNode = await webNode(memory);
  out.push({ name: 'express-session MemoryStore', note: '1 web node (cannot be shared)', nodes: [mNode, mNode], close: () => mNode.close() });
  return out;
}

const t0 = Date.now();
const machine = machineInfo();
console.log(`Concurrent requests of one user: ${formatMachine(machine)}`);
console.log(`${USERS} users x ${ROUNDS} rounds of two overlapping requests (A works ${DELAY_MS} ms, B starts ${Math.round(DELAY_MS / 3)} ms into A)`);
const cluster = await MemcachedCluster.start(4);
const lossRows: Array<Awaited<ReturnType<typeof run>> & { note: string }> = [];
const speedRows: Array<Awaited<ReturnType<typeof run>>> = [];
try {
  const all = await systems(cluster.servers);
  try {
    for (const s of all) await run(s, 0, 3); // warm-up: JIT, connections; not recorded
    for (const s of all) lossRows.push({ ...(await run(s, DELAY_MS, ROUNDS)), note: s.note });
    // Throughput: no artificial work, both webtier modes, interleaved 5 times; the median is kept.
    const webtier = all.filter((s) => s.name.startsWith('webtier'));
    const samples = new Map<string, Array<Awaited<ReturnType<typeof run>>>>();
    for (let i = 0; i < 5; i++) for (const s of webtier) samples.set(s.name, [...(samples.get(s.name) ?? []), await run(s, 0, THROUGHPUT_ROUNDS)]);
    for (const [, runs] of samples) speedRows.push(runs.sort((x, y) => x.requestsPerSec - y.requestsPerSec)[2]!);
  } finally {
    for (const s of all) await s.close();
  }
} finally {
  await cluster.stop();
  await dispatcher.close();
}

const lossHeaders = ['system', 'web nodes / copies', 'updates', 'lost', 'lost %', 'errors', 'requests/s'];
const lossTable = lossRows.map((r) => [r.system, r.note, r.updates, r.lost, `${((100 * r.lost) / r.updates).toFixed(1)} %`, r.errors, Math.round(r.requestsPerSec)]);
printTable(lossHeaders, lossTable, 'Lost updates');
const lww = speedRows.find((r) => r.system.includes('last-write-wins'))!;
const speedHeaders = ['system', 'requests/s', 'vs last-write-wins', 'lost', 'errors'];
const speedTable = speedRows.map((r) => [r.system, Math.round(r.requestsPerSec), formatRatio(r.requestsPerSec / lww.requestsPerSec), r.lost, r.errors]);
printTable(speedHeaders, speedTable, 'Throughput cost of merging (no artificial work, median of 5 interleaved runs)');

const totalSec = Math.round((Date.now() - t0) / 1000);
const md = [
  '# Concurrent requests of one user: lost updates',
  '',
  `Produced by \`npm run bench:concurrency\` (benchmarks/concurrency.ts) on ${formatMachine(machine)}, ${new Date().toISOString()}, in ${totalSec} s.`,
  '',
  `${USERS} users, each ${ROUNDS} rounds of two overlapping requests through real express + express-session apps on 4 local memcached nodes: request A (web node 1) reads the session, works ${DELAY_MS} ms and increments \`a\`; request B (web node 2) starts ${Math.round(DELAY_MS / 3)} ms into A, increments \`b\` and saves first. An update is lost when a counter ends below ${ROUNDS}.`,
  '',
  markdownTable(lossHeaders, lossTable),
  '',
  `## Throughput cost of merging`,
  '',
  `The same two overlapping requests without artificial work, ${THROUGHPUT_ROUNDS} rounds per user, median of 5 interleaved runs per mode. The requests still overlap, so most rounds conflict: in merge mode the later save pays a failed conditional write, a read of both replicas and a second conditional write (three round trips instead of one). The machine is shared; its load is in the first line.`,
  '',
  markdownTable(speedHeaders, speedTable),
  '',
].join('\n');
const files = writeResults('concurrency', { settings: { USERS, ROUNDS, DELAY_MS, THROUGHPUT_ROUNDS }, lostUpdates: lossRows, throughput: speedRows }, md);
console.log(`\nwrote ${files.json} and ${files.markdown} (${totalSec} s)`);
