import { describe, expect, it } from 'vitest';
import { newestFirst, repairPlan, type CopyState } from '../src/ReadRepair.js';
import type { ValueHeader } from '../src/Versioned.js';

/**
 * The replicator's decisions as tables (undici balanced-pool style): which copy is the newest, and
 * which replicas read-repair rewrites and why. No sockets: each row says what every replica answered.
 *
 * A copy is written `v<ms>[.<counter>][/w<writer>][@<expiresAt>][#<keyId>]`; `missing` (no copy),
 * `error` (the read failed), `corrupt` (rejected before its header was trusted), `corrupt-body v…`
 * (its header passed, but it did not open: the next newest is used).
 */
function copy(node: string, spec: string): CopyState & { opens: boolean } {
  if (spec === 'missing') return { node, hit: null, opens: false };
  if (spec === 'error') return { node, hit: null, error: new Error('timeout'), opens: false };
  if (spec === 'corrupt') return { node, hit: {}, corrupt: 'format', opens: false };
  const body = spec.startsWith('corrupt-body ');
  const m = /^v(\d+)(?:\.(\d+))?(?:\/w(\d+))?(?:@(\d+))?(?:#(\w+))?$/.exec(body ? spec.slice('corrupt-body '.length) : spec);
  if (!m) throw new Error(`bad copy spec ${spec}`);
  const header: ValueHeader = {
    kind: 'session',
    version: { ms: Number(m[1]), counter: Number(m[2] ?? 0), writer: Number(m[3] ?? 1) },
    expiresAt: Number(m[4] ?? 1000),
    keyId: m[5],
    bodyOffset: 23,
  };
  return { node, hit: {}, header, opens: !body };
}

// What the replicator does: the first copy of newestFirst() that opens; a copy that does not open is corrupt.
function decide(replicas: Record<string, string>, primaryKeyId?: string, only?: string) {
  const reads = Object.entries(replicas).map(([node, spec]) => copy(node, spec));
  let newest: (typeof reads)[number] | undefined;
  for (const r of newestFirst(reads)) {
    if (r.opens) {
      newest = r;
      break;
    }
    (r as { corrupt?: unknown }).corrupt = 'auth';
  }
  if (!newest) return { newest: undefined, repairs: {} };
  const repairs = Object.fromEntries(repairPlan(reads, newest, primaryKeyId, only).map((p) => [p.copy.node, p.reason]));
  return { newest: newest.node, repairs };
}

interface Case {
  name: string;
  replicas: Record<string, string>;
  primaryKeyId?: string;
  only?: string;
  newest: string | undefined;
  repairs: Record<string, string>;
}

const cases: Case[] = [
  { name: 'both copies equal: the primary, nothing to repair', replicas: { A: 'v5', B: 'v5' }, newest: 'A', repairs: {} },
  { name: 'the second copy is newer: it wins, the primary is stale', replicas: { A: 'v5', B: 'v7' }, newest: 'B', repairs: { A: 'stale' } },
  { name: 'versions order by ms, then counter', replicas: { A: 'v5.2', B: 'v5.1' }, newest: 'A', repairs: { B: 'stale' } },
  { name: 'then by writer id (a tie of two web nodes in the same ms)', replicas: { A: 'v5/w1', B: 'v5/w2' }, newest: 'B', repairs: { A: 'stale' } },
  { name: 'same version, later expiry (a touch): the touched copy wins, the other gets its expiry', replicas: { A: 'v5@1000', B: 'v5@2000' }, newest: 'B', repairs: { A: 'expiry' } },
  { name: 'a newer version beats a later expiry', replicas: { A: 'v6@1000', B: 'v5@9000' }, newest: 'A', repairs: { B: 'stale' } },
  { name: 'one replica has no copy: it gets one', replicas: { A: 'missing', B: 'v5' }, newest: 'B', repairs: { A: 'missing' } },
  { name: 'no replica has a copy: no session, nothing to repair', replicas: { A: 'missing', B: 'missing' }, newest: undefined, repairs: {} },
  { name: 'a failed replica is neither a source nor repaired', replicas: { A: 'error', B: 'v5' }, newest: 'B', repairs: {} },
  { name: 'a stand-in node holds the copy written while an owner was down', replicas: { A: 'error', B: 'v5', C: 'v6' }, newest: 'C', repairs: { B: 'stale' } },
  { name: 'a rejected copy is overwritten from the good one', replicas: { A: 'corrupt', B: 'v5' }, newest: 'B', repairs: { A: 'corrupt' } },
  { name: 'the newest header whose body does not open loses to the older copy that does', replicas: { A: 'corrupt-body v9', B: 'v5' }, newest: 'B', repairs: { A: 'corrupt' } },
  { name: 'only corrupt copies: no session, nothing copied', replicas: { A: 'corrupt', B: 'corrupt-body v5' }, newest: undefined, repairs: {} },
  { name: 'key rotation: a copy sealed with the old key is re-sealed everywhere, the newest too', replicas: { A: 'v5#k1', B: 'v5#k1' }, primaryKeyId: 'k2', newest: 'A', repairs: { A: 'rekey', B: 'rekey' } },
  { name: 'key rotation: newest already under the primary key, an equal-version twin under the old key is re-sealed', replicas: { A: 'v5#k2', B: 'v5#k1' }, primaryKeyId: 'k2', newest: 'A', repairs: { B: 'rekey' } },
  { name: 'key rotation: both under the primary key, nothing to do', replicas: { A: 'v5#k2', B: 'v5#k2' }, primaryKeyId: 'k2', newest: 'A', repairs: {} },
  { name: 'key rotation and a stale copy: stale wins as the reason', replicas: { A: 'v6#k1', B: 'v5#k1' }, primaryKeyId: 'k2', newest: 'A', repairs: { A: 'rekey', B: 'stale' } },
  { name: 're-sync of one node repairs only that node', replicas: { A: 'missing', B: 'v5', C: 'v4' }, only: 'A', newest: 'B', repairs: { A: 'missing' } },
  { name: 're-sync of a node that is up to date repairs nothing', replicas: { A: 'v5', B: 'missing' }, only: 'A', newest: 'A', repairs: {} },
];

describe('read-repair: the newest copy and what is rewritten (ReadRepair)', () => {
  it.each(cases)('$name', ({ replicas, primaryKeyId, only, newest, repairs }) => {
    const out = decide(replicas, primaryKeyId, only);
    expect(out.newest).toBe(newest);
    expect(out.repairs).toEqual(repairs);
  });
});
