// A small, bounded load for the lab tests: logged-in users, each sending one session request after
// another (GET and POST /api/session-touch alternately) through the gateway. The session's `touches`
// counter must go up by exactly one per request: a 401 is a lost session, a repeated or skipped
// count is a split history (a stale copy was read), anything but 200 is an error.
import { Agent } from 'undici';

export interface UserLoadResult {
  requests: number;
  lost: number;
  errors: number;
  /** A count that did not follow the previous one (stale read). */
  splits: number;
  maxMs: number;
  /** The first few failures, for the assertion message. */
  samples: string[];
}

export async function loginUsers(url: string, n: number): Promise<string[]> {
  const logins = [
    { user: 'alice', password: 'wonderland' },
    { user: 'bob', password: 'builder' },
  ];
  const cookies: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(logins[i % 2]), signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) throw new Error(`login ${i} through ${url} answered ${res.status}: ${await res.text()}`);
    const cookie = res.headers.get('set-cookie')?.split(';')[0];
    if (!cookie) throw new Error('login answered without a session cookie');
    cookies.push(cookie);
    await res.arrayBuffer().catch(() => {});
  }
  return cookies;
}

/** Runs until `until` resolves; every request has a 15 s client timeout (a hang is an error, not a stuck test). */
export async function runUsers(url: string, cookies: string[], until: Promise<unknown>): Promise<UserLoadResult> {
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: cookies.length });
  const r: UserLoadResult = { requests: 0, lost: 0, errors: 0, splits: 0, maxMs: 0, samples: [] };
  let done = false;
  void until.finally(() => (done = true));
  const fail = (what: string) => {
    if (r.samples.length < 10) r.samples.push(what);
  };
  await Promise.all(
    cookies.map(async (cookie, u) => {
      let last: number | undefined;
      for (let i = 0; !done; i++) {
        const t0 = performance.now();
        const method = i % 2 === 0 ? 'GET' : 'POST';
        try {
          const res = await fetch(`${url}/api/session-touch`, {
            method,
            headers: { cookie, accept: 'application/json', ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
            ...(method === 'POST' ? { body: '{}' } : {}),
            signal: AbortSignal.timeout(15_000),
            dispatcher: agent,
          } as RequestInit);
          const text = await res.text();
          const ms = performance.now() - t0;
          r.requests++;
          r.maxMs = Math.max(r.maxMs, ms);
          if (res.status === 401) {
            r.lost++;
            fail(`user ${u}: ${method} → 401 (session lost)`);
            return;
          }
          if (res.status !== 200) {
            r.errors++;
            fail(`user ${u}: ${method} → ${res.status} after ${Math.round(ms)} ms: ${text.slice(0, 120)}`);
            last = undefined; // the failed request may or may not have counted
            continue;
          }
          const touches = (JSON.parse(text) as { touches: number }).touches;
          if (last !== undefined && touches !== last + 1) {
            r.splits++;
            fail(`user ${u}: touches ${last} → ${touches} (history split)`);
          }
          last = touches;
        } catch (err) {
          r.requests++;
          r.errors++;
          fail(`user ${u}: ${method} failed after ${Math.round(performance.now() - t0)} ms: ${(err as Error).message}`);
          last = undefined;
        }
      }
    }),
  );
  await agent.close();
  return r;
}
