import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reapPidDir } from '@webtier/testkit';

/**
 * Gives every test worker a pid directory; at the end of the run, any process a worker started
 * and could not stop itself (e.g. the worker crashed) is SIGKILLed here.
 */
export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'webtier-pids-'));
  process.env['WEBTIER_PID_DIR'] = dir;
  return () => {
    const killed = reapPidDir(dir);
    if (killed.length > 0) console.warn(`[webtier] reaped ${killed.length} leftover process(es): ${killed.join(', ')}`);
    rmSync(dir, { recursive: true, force: true });
  };
}
