import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { findMemcached } from '@webtier/testkit';
import { DemoError, DemoErrorCodes } from './errors.js';

const INSTALL_HINT =
  'Install it: on Debian/Ubuntu `sudo apt-get update && sudo apt-get install -y memcached`, on Fedora `sudo dnf install memcached`, ' +
  'on macOS `brew install memcached`; or set WEBTIER_MEMCACHED_BIN to the binary.';

/**
 * Makes sure a memcached binary exists. When it is missing and we run as root on Debian with
 * `install` set, installs the Debian package with apt-get; otherwise says how to install it.
 */
export function ensureMemcached(install: boolean, log: (line: string) => void): string {
  try {
    return findMemcached();
  } catch (cause) {
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    if (install && root && existsSync('/etc/debian_version') && existsSync('/usr/bin/apt-get')) {
      log('memcached is not installed: installing the Debian package with apt-get (running as root)...');
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
      const installed = update.status === 0 && spawnSync('apt-get', ['install', '-y', '-qq', 'memcached'], { stdio: 'inherit', env }).status === 0;
      if (installed) {
        // Debian starts a system memcached on 11211; the demo uses its own processes on free ports.
        return findMemcached();
      }
      throw new DemoError(DemoErrorCodes.NO_MEMCACHED, `memcached is not installed and apt-get could not install it. ${INSTALL_HINT}`, { cause });
    }
    throw new DemoError(DemoErrorCodes.NO_MEMCACHED, `memcached is not installed (the demo runs 4 memcached processes). ${INSTALL_HINT}`, { cause });
  }
}
