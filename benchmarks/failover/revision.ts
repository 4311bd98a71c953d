// Which code a benchmark measured: the commit, and whether the measured packages had uncommitted
// changes (the working tree is shared while the gateway is being written).
import { execFileSync } from 'node:child_process';

export interface Revision {
  commit: string;
  /** Uncommitted changes under the given paths, as `git status --porcelain` lists them. */
  uncommitted: string[];
}

export function revision(paths: readonly string[]): Revision | undefined {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', ...paths], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { commit, uncommitted: status.split('\n').map((l) => l.trim()).filter((l) => l && !l.includes('.scratch')) };
  } catch {
    return undefined;
  }
}

/** "commit abc1234" or "commit abc1234 + uncommitted changes in 3 files". */
export function describeRevision(r: Revision | undefined): string {
  if (!r) return 'revision unknown (not a git checkout)';
  return r.uncommitted.length === 0 ? `commit ${r.commit}` : `commit ${r.commit} + uncommitted changes in ${r.uncommitted.length} file(s) of the measured packages`;
}
