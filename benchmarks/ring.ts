// Ring lookups per second: @webtier/hash-ring against the npm `hashring` package (the common
// choice) on the same server lists, in one run. Run with `npm run bench:ring` (builds first).
//
// Keys: 150,000 distinct session ids per round, so hashring's built-in LRU cache (5,000 entries)
// never answers for it; a separate, labelled "hot keys" run uses 1,000 keys over and over, where
// its cache does answer. hashring's range() has no cache. Rounds are interleaved; medians reported.
import { randomBytes } from 'node:crypto';
import HashRingJs from 'hashring';
import { HashRing } from '@webtier/hash-ring';
import { measure } from './lib/measure.js';
import type { Measurement } from './lib/measure.js';
import { formatMachine, formatOps, formatRatio, machineInfo, markdownTable, printTable, writeResults } from './lib/report.js';

const SERVER_COUNTS = [4, 50];
const DISTINCT_KEYS = 150_000;
const HOT_KEYS = 1_000;
const ROUNDS = 5;
const WARMUP_ROUNDS = 1;

// PHP session ids are 26 characters by default; the prefix is what a session store adds.
const sessionId = () => `sess:${randomBytes(13).toString('hex')}`;
const distinct = [...new Set(Array.from({ length: DISTINCT_KEYS }, sessionId))];
const hotSet = distinct.slice(0, HOT_KEYS);
const hot = Array.from({ length: distinct.length }, (_, i) => hotSet[i % HOT_KEYS]!);
// Flat strings up front, so neither side pays for flattening concatenated ones.
for (const k of distinct) k.charCodeAt(k.length - 1);

interface Row {
  servers: number;
  operation: string;
  keys: string;
  webtier: Measurement;
  hashring: Measurement;
  ratio: number;
}

const rows: Row[] = [];
const agreement: Array<{ servers: number; sameNodePercent: number }> = [];
const started = Date.now();

for (const count of SERVER_COUNTS) {
  const servers = Array.from({ length: count }, (_, i) => `10.0.${i >> 8}.${(i & 255) + 1}:11211`);
  const ours = new HashRing(servers);
  // "default port": leave :11211 out of the point strings, as libmemcached does.
  const theirs = new HashRingJs(servers, 'md5', { 'default port': 11211 });

  let same = 0;
  for (const key of distinct) if (ours.get(key) === theirs.get(key)) same++;
  agreement.push({ servers: count, sameNodePercent: Math.round((same / distinct.length) * 10000) / 100 });

  const pair = (operation: string, keysLabel: string, keys: string[], ourRun: (k: string[]) => number, theirRun: (k: string[]) => number) => {
    const [w, h] = measure(
      [
        { name: 'webtier', ops: keys.length, run: () => ourRun(keys) },
        { name: 'hashring', ops: keys.length, run: () => theirRun(keys) },
      ],
      { rounds: ROUNDS, warmupRounds: WARMUP_ROUNDS },
    );
    rows.push({ servers: count, operation, keys: keysLabel, webtier: w!, hashring: h!, ratio: w!.opsPerSec / h!.opsPerSec });
  };

  // Each contender has its own loop, so each call site stays monomorphic.
  const ourGet = (keys: readonly string[]) => {
    let n = 0;
    for (let i = 0; i < keys.length; i++) n += ours.get(keys[i]!).length;
    return n;
  };
  const theirGet = (keys: readonly string[]) => {
    let n = 0;
    for (let i = 0; i < keys.length; i++) n += theirs.get(keys[i]!).length;
    return n;
  };
  pair(
    'get(key)',
    `${formatOps(distinct.length)} distinct`,
    distinct,
    ourGet,
    theirGet,
  );
  pair(
    'nodesFor(key, 2) / range(key, 2)',
    `${formatOps(distinct.length)} distinct`,
    distinct,
    (keys) => {
      let n = 0;
      for (let i = 0; i < keys.length; i++) n += ours.nodesFor(keys[i]!, 2).length;
      return n;
    },
    (keys) => {
      let n = 0;
      for (let i = 0; i < keys.length; i++) n += theirs.range(keys[i]!, 2).length;
      return n;
    },
  );
  pair(
    'get(key), hot keys: hashring LRU hits',
    `${formatOps(HOT_KEYS)} repeated`,
    hot,
    ourGet,
    theirGet,
  );
}

const seconds = (Date.now() - started) / 1000;
const machine = machineInfo();
const headers = ['servers', 'operation', 'keys', 'webtier ops/s', 'hashring ops/s', 'webtier/hashring'];
const cells = rows.map((r) => [r.servers, r.operation, r.keys, formatOps(r.webtier.opsPerSec), formatOps(r.hashring.opsPerSec), formatRatio(r.ratio)]);
printTable(headers, cells, `Ring lookups per second, median of ${ROUNDS} rounds (${formatMachine(machine)})`);

const getRatios = rows.filter((r) => r.operation === 'get(key)').map((r) => r.ratio);
const target = Math.min(...getRatios) >= 2;
const noisy = rows.filter((r) => r.webtier.spread > 0.2 || r.hashring.spread > 0.2);
const notes = [
  `Target ring.get >= 2x hashring on distinct keys: ${target ? 'met' : 'NOT met'} (${getRatios.map(formatRatio).join(', ')}).`,
  `Same node as hashring (with "default port": 11211) on the distinct keys: ${agreement.map((a) => `${a.servers} servers ${a.sameNodePercent}%`).join(', ')}.`,
  ...(noisy.length > 0 ? [`Rounds spread more than 20% in ${noisy.length} row(s): the machine was busy, compare ratios rather than absolute numbers.`] : []),
  `Took ${seconds.toFixed(1)} s.`,
];
process.stdout.write(`\n${notes.join('\n')}\n`);

const markdown = [
  '# Ring lookups: @webtier/hash-ring vs hashring',
  '',
  `Produced by \`npm run bench:ring\` (benchmarks/ring.ts) on ${new Date().toISOString().slice(0, 10)}: ${formatMachine(machine)}.`,
  '',
  `Median of ${ROUNDS} interleaved rounds after ${WARMUP_ROUNDS} warmup round, ${formatOps(distinct.length)} lookups per round.`,
  `"distinct" keys are fresh session ids (hashring's 5,000-entry LRU cache cannot answer);`,
  `"hot keys" repeat ${formatOps(HOT_KEYS)} keys, where hashring's get() is served from its cache.`,
  '',
  markdownTable(headers, cells),
  '',
  ...notes.map((n) => `- ${n}`),
  '',
].join('\n');

const written = writeResults(
  'ring',
  {
    config: { serverCounts: SERVER_COUNTS, distinctKeys: distinct.length, hotKeys: HOT_KEYS, rounds: ROUNDS, warmupRounds: WARMUP_ROUNDS },
    results: rows.map((r) => ({
      servers: r.servers,
      operation: r.operation,
      keys: r.keys,
      webtierOpsPerSec: Math.round(r.webtier.opsPerSec),
      hashringOpsPerSec: Math.round(r.hashring.opsPerSec),
      ratio: Math.round(r.ratio * 100) / 100,
      webtierRounds: r.webtier.rounds.map(Math.round),
      hashringRounds: r.hashring.rounds.map(Math.round),
    })),
    agreement,
    targetMet: target,
    seconds,
  },
  markdown,
);
process.stdout.write(`Wrote ${written.json} and ${written.markdown}\n`);
