// Session store throughput and latency: @webtier/session-store (both read modes) against
// connect-memjs (the express-session store most memcached users run) and raw memjs (the floor: one
// memcached op per call, no replica), on the same 4 real memcached nodes, in one run.
// Then the single-node-loss figure: write 2,000 sessions, SIGKILL one node, read them all back.
// Run with `npm run bench:store` (builds first). Results: benchmarks/results/store.{json,md}.
// `tsx benchmarks/store.ts --profile` instead profiles the get of webtier (readMode 'all', with and
// without read tracking) and connect-memjs in this process and writes benchmarks/results/store-profile.md.
//
// Method: CONCURRENCY calls in flight, each on a random one of KEYS pre-written sessions; every
// (contender, operation) pair runs PHASE_MS per round, rounds interleaved so that machine noise hits
// everyone alike; ops/s is the median over rounds, p50/p99 are over all calls of all rounds.
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { Session as InspectorSession } from 'node:inspector/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import session from 'express-session';
import memjs from 'memjs';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Pool } from 'undici';
import { MemcachedCluster } from '@webtier/testkit';
import { ReplicatedMemcachedStore, type ResyncResult } from '@webtier/session-store';
import { summarizeProfile, type ProfileSummary } from './gateway/cpuProfile.js';
import { formatMachine, formatOps, formatRatio, machineInfo, markdownTable, printTable, RESULTS_DIR, writeResults, type Cell } from './lib/report.js';

const require = createRequire(import.meta.url);
const ConnectMemjs = require('connect-memjs')(session) as new (o: Record<string, unknown>) => session.Store;

const KEYS = 2_000;
const CONCURRENCY = 50;
const PHASE_MS = Number(process.env.PHASE_MS ?? 2_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const LOSS_SESSIONS = 2_000;
const OPS = ['get', 'set', 'touch'] as const;
type Op = (typeof OPS)[number];

interface Contender {
  name: string;
  note: string;
  get(id: string): Promise<unknown>;
  set(id: string, s: session.SessionData): Promise<unknown>;
  /** undefined: the contender has no touch (express-session then rewrites the session with set). */
  touch: ((id: string, s: session.SessionData) => Promise<unknown>) | undefined;
  close(): Promise<void>;
}

const sessionData = (i: number): session.SessionData =>
  ({
    cookie: { originalMaxAge: 86_400_000, expires: new Date(Date.now() + 86_400_000).toISOString(), httpOnly: true, path: '/', secure: false },
    user: `user${i}@example.org`,
    roles: ['mail', 'calendar', 'contacts'],
    csrf: randomBytes(16).toString('hex'),
    prefs: { lang: 'en_US', timezone: 'Europe/Zurich', skin: 'elastic', pageSize: 50 },
    lastFolder: 'INBOX',
  }) as unknown as session.SessionData;

const cb = <T>(fn: (done: (err: unknown, v?: T) => void) => void) =>
  new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));

const ENCRYPTION = { keys: [{ id: 'bench', key: randomBytes(32) }] };

function webtier(servers: string[], readMode: 'all' | 'primary', encrypted = false, lastWriteWins = false): Contender {
  const store = new ReplicatedMemcachedStore({
    servers,
    readMode,
    prefix: `wt-${readMode}${encrypted ? '-enc' : ''}${lastWriteWins ? '-lww' : ''}:`,
    ...(encrypted ? { encryption: ENCRYPTION } : {}),
    ...(lastWriteWins ? { concurrentWrites: 'last-write-wins' as const } : {}),
  });
  const copies = readMode === 'all' ? '2 copies; get reads both, returns the newest' : '2 copies; get reads the primary, both on miss/suspect';
  return {
    name: `webtier (readMode '${readMode}'${encrypted ? ', encryption' : ''}${lastWriteWins ? ', last-write-wins' : ''})`,
    note: `${copies}${encrypted ? '; AES-256-GCM' : ''}${lastWriteWins ? "; concurrentWrites 'last-write-wins': get tracks no read (the default 'merge' does)" : ''}`,
    get: (id) => cb((d) => store.get(id, d)),
    set: (id, s) => cb((d) => store.set(id, s, d)),
    touch: (id, s) => cb((d) => store.touch(id, s, d)),
    close: () => store.close(),
  };
}

function connectMemjs(servers: string[], failover = false): Contender {
  const store = new ConnectMemjs({ servers, prefix: 'cm:', failover, logger: { log() {} } });
  const client = (store as unknown as { client: { close(): void } }).client;
  return {
    name: failover ? 'connect-memjs (failover: true)' : 'connect-memjs',
    note: '1 copy (memjs default hashing)',
    get: (id) => cb((d) => store.get(id, d)),
    set: (id, s) => cb((d) => store.set(id, s, d)),
    touch: undefined,
    close: async () => client.close(),
  };
}

function rawMemjs(servers: string[]): Contender {
  const client = memjs.Client.create(servers.join(','), { logger: { log() {} } } as never);
  return {
    name: 'raw memjs',
    note: '1 copy, no session logic (the floor)',
    get: async (id) => {
      const { value } = await client.get(`raw:${id}`);
      return value ? JSON.parse(value.toString()) : null;
    },
    set: (id, s) => client.set(`raw:${id}`, JSON.stringify(s), { expires: 86_400 }),
    touch: (id) => client.touch(`raw:${id}`, 86_400),
    close: async () => client.close(),
  };
}

interface Phase {
  calls: number;
  errors: number;
  opsPerSec: number;
  latenciesMs: number[];
}

/**
 * CONCURRENCY callers, each calling `step` back to back for PHASE_MS (a closed loop). `step` resolves
 * whether the call succeeded; a throw counts as an error. Latencies are of every call.
 */
async function closedLoop(step: () => Promise<boolean>): Promise<{ ok: number; errors: number; seconds: number; latenciesMs: number[] }> {
  const latenciesMs: number[] = [];
  let ok = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + PHASE_MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        try {
          if (await step()) ok++;
          else errors++;
        } catch {
          errors++;
        }
        latenciesMs.push(performance.now() - t);
      }
    }),
  );
  return { ok, errors, seconds: (performance.now() - started) / 1000, latenciesMs };
}

async function runPhase(c: Contender, op: Op, ids: string[], data: session.SessionData[]): Promise<Phase> {
  const fn = op === 'get' ? (i: number) => c.get(ids[i]!) : op === 'set' ? (i: number) => c.set(ids[i]!, data[i]!) : (i: number) => c.touch!(ids[i]!, data[i]!);
  const r = await closedLoop(async () => {
    await fn(Math.floor(Math.random() * ids.length));
    return true;
  });
  return { calls: r.latenciesMs.length, errors: r.errors, opsPerSec: r.latenciesMs.length / r.seconds, latenciesMs: r.latenciesMs };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function throughput(): Promise<Array<{ contender: string; note: string; op: Op; opsPerSec: number; p50Ms: number; p99Ms: number; errors: number; calls: number }>> {
  const cluster = await MemcachedCluster.start(4, { memoryMb: 64 });
  const contenders = [
    webtier(cluster.servers, 'all'),
    webtier(cluster.servers, 'all', false, true),
    webtier(cluster.servers, 'all', true),
    webtier(cluster.servers, 'primary'),
    webtier(cluster.servers, 'primary', true),
    connectMemjs(cluster.servers),
    rawMemjs(cluster.servers),
  ];
  try {
    const ids = Array.from({ length: KEYS }, () => randomBytes(16).toString('base64url'));
    const data = ids.map((_, i) => sessionData(i));
    for (const c of contenders) for (let i = 0; i < ids.length; i += CONCURRENCY) await Promise.all(ids.slice(i, i + CONCURRENCY).map((id, j) => c.set(id, data[i + j]!)));
    const results = new Map<string, Phase[]>();
    // Warm-up: JIT and connections, not recorded.
    for (const c of contenders) await runPhase(c, 'get', ids, data);
    for (let round = 0; round < ROUNDS; round++) {
      for (const op of OPS) {
        for (const c of contenders) {
          if (op === 'touch' && !c.touch) continue;
          const r = await runPhase(c, op, ids, data);
          const key = `${c.name}|${op}`;
          results.set(key, [...(results.get(key) ?? []), r]);
        }
      }
      process.stdout.write(`  round ${round + 1}/${ROUNDS} done\n`);
    }
    const rows = [];
    for (const op of OPS) {
      for (const c of contenders) {
        const phases = results.get(`${c.name}|${op}`);
        if (!phases) {
          rows.push({ contender: c.name, note: c.note, op, opsPerSec: NaN, p50Ms: NaN, p99Ms: NaN, errors: 0, calls: 0 });
          continue;
        }
        const lat = phases.flatMap((p) => p.latenciesMs).sort((a, b) => a - b);
        rows.push({
          contender: c.name,
          note: c.note,
          op,
          opsPerSec: median(phases.map((p) => p.opsPerSec)),
          p50Ms: percentile(lat, 50),
          p99Ms: percentile(lat, 99),
          errors: phases.reduce((s, p) => s + p.errors, 0),
          calls: lat.length,
        });
      }
    }
    return rows;
  } finally {
    for (const c of contenders) await c.close();
    await cluster.stop();
  }
}

/**
 * What encryption costs a request: a real express + express-session app whose /me reads the session
 * and saves a change (get + set), webtier with and without encryption, interleaved rounds, requests/s.
 */
async function throughExpress(): Promise<Array<{ contender: string; requestsPerSec: number; errors: number }>> {
  const cluster = await MemcachedCluster.start(4, { memoryMb: 64 });
  const variants = [
    { name: 'webtier (readMode \'all\')', store: new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'ex-plain:' }) },
    { name: 'webtier (readMode \'all\', encryption)', store: new ReplicatedMemcachedStore({ servers: cluster.servers, prefix: 'ex-enc:', encryption: ENCRYPTION }) },
  ];
  const apps = await Promise.all(
    variants.map(async (v) => {
      const app = express();
      app.use(session({ store: v.store, secret: 'bench', resave: false, saveUninitialized: false, cookie: { maxAge: 86_400_000 } }));
      app.get('/login', (req, res) => {
        Object.assign(req.session, sessionData(0), { cookie: req.session.cookie, visits: 0 });
        res.json({ ok: true });
      });
      app.get('/me', (req, res) => {
        const s = req.session as unknown as { visits: number };
        s.visits += 1;
        res.json({ visits: s.visits });
      });
      const server = app.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: CONCURRENCY });
      const cookies: string[] = [];
      for (let i = 0; i < 200; i++) {
        const r = await pool.request({ path: '/login', method: 'GET' });
        await r.body.dump();
        cookies.push(String(r.headers['set-cookie']).split(';')[0]!);
      }
      return { ...v, server, pool, cookies };
    }),
  );
  const phase = async (a: (typeof apps)[number]) => {
    const r = await closedLoop(async () => {
      const res = await a.pool.request({ path: '/me', method: 'GET', headers: { cookie: a.cookies[Math.floor(Math.random() * a.cookies.length)]! } });
      await res.body.dump();
      return res.statusCode === 200;
    });
    return { rps: r.ok / r.seconds, errors: r.errors };
  };
  try {
    for (const a of apps) await phase(a); // warm-up
    const samples = new Map<string, Array<{ rps: number; errors: number }>>();
    for (let round = 0; round < ROUNDS; round++) for (const a of apps) samples.set(a.name, [...(samples.get(a.name) ?? []), await phase(a)]);
    return apps.map((a) => ({ contender: a.name, requestsPerSec: median(samples.get(a.name)!.map((x) => x.rps)), errors: samples.get(a.name)!.reduce((n, x) => n + x.errors, 0) }));
  } finally {
    for (const a of apps) {
      await a.pool.close();
      a.server.closeAllConnections();
      a.server.close();
      await a.store.close();
    }
    await cluster.stop();
  }
}

interface LossRow {
  contender: string;
  sessions: number;
  lost: number;
  errors: number;
  readAllMs: number;
  resyncMs: number | undefined;
}

/** Writes LOSS_SESSIONS sessions, SIGKILLs one of 4 nodes, reads every session back. */
async function singleNodeLoss(make: (servers: string[]) => Contender, store?: (c: Contender) => ReplicatedMemcachedStore | undefined): Promise<LossRow> {
  const cluster = await MemcachedCluster.start(4);
  const c = make(cluster.servers);
  try {
    const ids = Array.from({ length: LOSS_SESSIONS }, () => randomBytes(16).toString('base64url'));
    for (let i = 0; i < ids.length; i += CONCURRENCY) await Promise.all(ids.slice(i, i + CONCURRENCY).map((id, j) => c.set(id, sessionData(i + j))));
    await cluster.node(2).kill();
    let lost = 0;
    let errors = 0;
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < ids.length) {
          const id = ids[next++]!;
          try {
            if (!(await c.get(id))) lost++;
          } catch {
            errors++;
          }
        }
      }),
    );
    const readAllMs = performance.now() - started;
    // Redundancy restored: restart the node empty and time the re-sync (webtier only).
    let resyncMs: number | undefined;
    const s = store?.(c);
    if (s) {
      const done = new Promise<ResyncResult>((resolve) => s.on('resync', (r: ResyncResult) => r.node === cluster.node(2).address && r.aborted === undefined && resolve(r)));
      const t = performance.now();
      await cluster.node(2).restart();
      await done;
      resyncMs = performance.now() - t;
    }
    return { contender: c.name, sessions: ids.length, lost, errors, readAllMs, resyncMs };
  } finally {
    await c.close();
    await cluster.stop();
  }
}

/**
 * `--profile`: where a get's CPU goes. Each contender's get runs for 2 x PHASE_MS under the in-process
 * V8 profiler (the client loop is in this process too, alike for all); CPU per get is this process's
 * user + system time over the gets done.
 */
async function profileGets(): Promise<void> {
  const cluster = await MemcachedCluster.start(4, { memoryMb: 64 });
  const contenders = [webtier(cluster.servers, 'all'), webtier(cluster.servers, 'all', false, true), connectMemjs(cluster.servers)];
  const dir = mkdtempSync(join(tmpdir(), 'store-profile-'));
  const inspector = new InspectorSession();
  inspector.connect();
  const out: Array<{ name: string; gets: number; cpuUsPerGet: number; summary: ProfileSummary }> = [];
  try {
    const ids = Array.from({ length: KEYS }, () => randomBytes(16).toString('base64url'));
    const data = ids.map((_, i) => sessionData(i));
    for (const c of contenders) for (let i = 0; i < ids.length; i += CONCURRENCY) await Promise.all(ids.slice(i, i + CONCURRENCY).map((id, j) => c.set(id, data[i + j]!)));
    for (const c of contenders) await runPhase(c, 'get', ids, data); // warm-up
    await inspector.post('Profiler.enable');
    for (const c of contenders) {
      await inspector.post('Profiler.start');
      const cpu = process.cpuUsage();
      let gets = 0;
      for (let i = 0; i < 2; i++) gets += (await runPhase(c, 'get', ids, data)).calls;
      const used = process.cpuUsage(cpu);
      const { profile } = await inspector.post('Profiler.stop');
      const file = join(dir, `${out.length}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      out.push({ name: c.name, gets, cpuUsPerGet: (used.user + used.system) / gets, summary: summarizeProfile(file, 25) });
    }
  } finally {
    inspector.disconnect();
    rmSync(dir, { recursive: true, force: true });
    for (const c of contenders) await c.close();
    await cluster.stop();
  }
  const lines = (l: ProfileSummary['selfTop']) => l.map((x) => [x.name, x.where, x.ms, `${x.percent}%`] as Cell[]);
  const md: string[] = [
    '# Where a session store get spends its time',
    '',
    `\`tsx benchmarks/store.ts --profile\` on ${formatMachine(machineInfo())}, ${new Date().toISOString()}: ${CONCURRENCY} gets in flight on ${KEYS} sessions, 2 x ${PHASE_MS} ms per store under the in-process V8 profiler (the benchmark's own loop included, alike for all). Shares are of the CPU time used (idle samples left out).`,
    '',
    '| store | gets | CPU per get (µs, this process) |',
    '| --- | ---: | ---: |',
    ...out.map((o) => `| ${o.name} | ${o.gets} | ${o.cpuUsPerGet.toFixed(1)} |`),
    '',
  ];
  for (const o of out) {
    md.push(`## ${o.name}`, '', '### Self time by package', '', markdownTable(['package', '', 'ms', 'share'], lines(o.summary.byPackage)), '');
    md.push('### Self time by function', '', markdownTable(['function', 'where', 'ms', 'share'], lines(o.summary.selfTop)), '');
    printTable(['function', 'where', 'ms', 'share'], lines(o.summary.selfTop), `${o.name}: ${o.cpuUsPerGet.toFixed(1)} µs CPU per get`);
  }
  writeFileSync(join(RESULTS_DIR, 'store-profile.md'), md.join('\n'));
  console.log('\nwrote benchmarks/results/store-profile.md');
}

if (process.argv.includes('--profile')) {
  await profileGets();
  process.exit(0);
}

const t0 = Date.now();
const machine = machineInfo();
console.log(`Session stores on 4 local memcached nodes: ${formatMachine(machine)}`);
console.log(`${KEYS} sessions, ${CONCURRENCY} calls in flight, ${ROUNDS} interleaved rounds of ${PHASE_MS} ms per operation`);
const rows = await throughput();

const baseline = (op: Op) => rows.find((r) => r.contender === 'connect-memjs' && r.op === op)?.opsPerSec;
const tableRows = rows.map((r) => {
  const base = baseline(r.op);
  const ratio = Number.isFinite(r.opsPerSec) && base ? formatRatio(r.opsPerSec / base) : 'n/a';
  return [
    r.op,
    r.contender,
    Number.isFinite(r.opsPerSec) ? formatOps(r.opsPerSec) : 'n/a (no touch)',
    Number.isFinite(r.p50Ms) ? r.p50Ms.toFixed(2) : '',
    Number.isFinite(r.p99Ms) ? r.p99Ms.toFixed(2) : '',
    r.op === 'touch' ? `${ratio} (connect-memjs has no touch)` : ratio,
    r.errors,
  ];
});
const headers = ['op', 'store', 'ops/s', 'p50 ms', 'p99 ms', 'vs connect-memjs', 'errors'];
printTable(headers, tableRows, 'Throughput and latency');

// What encryption costs: encrypted ops/s over plain ops/s of the same read mode, same run.
const encHeaders = ['op', 'readMode', 'plain ops/s', 'encryption ops/s', 'encryption / plain'];
const encRows = OPS.flatMap((op) =>
  (['all', 'primary'] as const).map((mode) => {
    const plain = rows.find((r) => r.op === op && r.contender === `webtier (readMode '${mode}')`)!.opsPerSec;
    const enc = rows.find((r) => r.op === op && r.contender === `webtier (readMode '${mode}', encryption)`)!.opsPerSec;
    return [op, mode, formatOps(plain), formatOps(enc), formatRatio(enc / plain)];
  }),
);
printTable(encHeaders, encRows, 'Cost of encryption (AES-256-GCM, key id and header authenticated)');

const viaExpress = await throughExpress();
const plainRps = viaExpress[0]!.requestsPerSec;
const expressHeaders = ['store', 'requests/s', 'vs plain', 'errors'];
const expressRows = viaExpress.map((r) => [r.contender, Math.round(r.requestsPerSec), formatRatio(r.requestsPerSec / plainRps), r.errors]);
printTable(expressHeaders, expressRows, 'Cost of encryption per request (express + express-session, /me: get + set)');

console.log(`\nSingle node loss: ${LOSS_SESSIONS} sessions written, one of 4 nodes SIGKILLed, every session read back`);
const loss: LossRow[] = [];
let webtierStore: ReplicatedMemcachedStore | undefined;
loss.push(
  await singleNodeLoss(
    (servers) => {
      webtierStore = new ReplicatedMemcachedStore({ servers, prefix: 'loss:' });
      const s = webtierStore;
      return { name: "webtier (readMode 'all')", note: '', get: (id) => cb((d) => s.get(id, d)), set: (id, x) => cb((d) => s.set(id, x, d)), touch: undefined, close: () => s.close() };
    },
    () => webtierStore,
  ),
);
loss.push(await singleNodeLoss((servers) => connectMemjs(servers, false)));
loss.push(await singleNodeLoss((servers) => connectMemjs(servers, true)));
const lossHeaders = ['store', 'sessions', 'lost', 'errors', 'read all (ms)', 'restart + re-sync (ms)'];
const lossRows = loss.map((l) => [l.contender, l.sessions, l.lost, l.errors, Math.round(l.readAllMs), l.resyncMs === undefined ? 'n/a (no re-sync)' : Math.round(l.resyncMs)]);
printTable(lossHeaders, lossRows, 'Single node loss');

const totalSec = Math.round((Date.now() - t0) / 1000);
const md = [
  '# Session store benchmark',
  '',
  `Produced by \`npm run bench:store\` (benchmarks/store.ts) on ${formatMachine(machine)}, ${new Date().toISOString()}, in ${totalSec} s.`,
  '',
  `4 local memcached nodes (testkit), ${KEYS} sessions of ~330 bytes, ${CONCURRENCY} calls in flight, ${ROUNDS} interleaved rounds of ${PHASE_MS} ms per operation; ops/s is the median round, p50/p99 over all calls.`,
  'webtier keeps 2 copies of every session; connect-memjs and raw memjs keep 1.',
  '',
  '## Throughput and latency',
  '',
  markdownTable(headers, tableRows),
  '',
  '## Cost of encryption',
  '',
  'The same run: webtier with `encryption` (AES-256-GCM, one key) over webtier without, per read mode. Every value is sealed on set and touch and opened on every read of its newest copy.',
  '',
  markdownTable(encHeaders, encRows),
  '',
  `Per request of a real express 5 + express-session app (route /me reads the session and saves a change: one get and one set; ${CONCURRENCY} requests in flight, median of ${ROUNDS} interleaved rounds of ${PHASE_MS} ms, client in the same process):`,
  '',
  markdownTable(expressHeaders, expressRows),
  '',
  '## Single node loss',
  '',
  `${LOSS_SESSIONS} sessions written, one of the 4 nodes SIGKILLed, then every session read back with ${CONCURRENCY} reads in flight. "lost": read back as no session (the user is logged out); "errors": the read failed (a 500 for the user). For webtier, the node is then restarted empty and the time until its re-sync finished is shown.`,
  '',
  markdownTable(lossHeaders, lossRows),
  '',
].join('\n');
const files = writeResults('store', { settings: { KEYS, CONCURRENCY, PHASE_MS, ROUNDS, LOSS_SESSIONS }, throughput: rows, encryptionCost: encRows, encryptionCostPerRequest: viaExpress, singleNodeLoss: loss }, md);
console.log(`\nwrote ${files.json} and ${files.markdown} (${totalSec} s)`);
