import { createHash } from 'node:crypto';
import * as crypto from 'node:crypto';
import { JS_MD5_USABLE, md5FirstWordLE } from './md5.js';

/** libmemcached's MEMCACHED_POINTS_PER_SERVER_KETAMA. */
export const POINTS_PER_SERVER_KETAMA = 160;
/** libmemcached's MEMCACHED_DEFAULT_PORT: the port is left out of the point strings for it. */
export const DEFAULT_PORT = 11211;

// The full digest, for the continuum points. crypto.hash (Node >= 20.12) is a one-shot digest
// without a Hash object; key lookups use the faster JavaScript MD5 instead (keyHash below).
const oneShot = (crypto as unknown as { hash?: (alg: string, data: string, enc: 'buffer') => Buffer }).hash;
export const md5: (data: string) => Buffer =
  typeof oneShot === 'function'
    ? (data) => oneShot('md5', data, 'buffer')
    : (data) => createHash('md5').update(data).digest();

/**
 * The number of continuum points of one server, computed as libmemcached's `update_continuum`
 * does for MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED: in float32 (so equal weights give 156 instead of
 * 160 points at some server counts, e.g. 25, 47, 50), floored after adding a double 1e-10, times 4.
 */
export function pointsPerServer(weight: number, totalWeight: number, liveServers: number): number {
  const f = Math.fround;
  const pct = f(f(weight) / f(totalWeight));
  const scaled = f(f(f(pct * POINTS_PER_SERVER_KETAMA) / 4) * f(liveServers));
  return Math.floor(scaled + 0.0000000001) * 4;
}

/** The point string libmemcached hashes: `host-i` on port 11211, `host:port-i` otherwise. */
export function pointName(host: string, port: number, index: number): string {
  return port === DEFAULT_PORT ? `${host}-${index}` : `${host}:${port}-${index}`;
}

/**
 * libmemcached's hashkit MD5 key hash: the little-endian uint32 of the first 4 bytes of
 * md5(key's UTF-8 bytes). The JavaScript MD5 is the lookup hot path (see md5.ts for why).
 */
export const keyHash: (key: string) => number = JS_MD5_USABLE
  ? md5FirstWordLE
  : (key) => md5(key).readUInt32LE(0);
