import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { TestkitError, TestkitErrorCodes } from './errors.js';

/**
 * Finds the memcached binary: `$WEBTIER_MEMCACHED_BIN`, then `$PATH`, then /usr/bin and /usr/sbin.
 * Throws TESTKIT_ERR_NO_MEMCACHED naming the Debian package when there is none: tests that need
 * memcached fail loudly instead of being skipped.
 */
export function findMemcached(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env['WEBTIER_MEMCACHED_BIN'];
  const candidates = explicit
    ? [explicit]
    : [...(env['PATH'] ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'memcached')), '/usr/bin/memcached', '/usr/sbin/memcached', '/usr/local/bin/memcached'];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new TestkitError(
    TestkitErrorCodes.NO_MEMCACHED,
    `memcached binary not found (looked in ${explicit ? `$WEBTIER_MEMCACHED_BIN=${explicit}` : '$PATH, /usr/bin, /usr/sbin, /usr/local/bin'}). ` +
      'Install the Debian package "memcached": sudo apt-get update && sudo apt-get install -y memcached ' +
      '(or set WEBTIER_MEMCACHED_BIN to its path).',
  );
}

/** memcached refuses to run as root without -u; pick an unprivileged user that exists. */
export function memcachedUserArgs(): string[] {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return [];
  return ['-u', hasUser('memcache') ? 'memcache' : 'nobody'];
}

function hasUser(name: string): boolean {
  try {
    return readFileSync('/etc/passwd', 'utf8').split('\n').some((line) => line.startsWith(`${name}:`));
  } catch {
    return false;
  }
}
