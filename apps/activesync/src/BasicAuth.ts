import { createHash } from 'node:crypto';
import type { DemoUser, DemoUsers } from '@webtier/demo-mail';

/** How long a verified Authorization header is remembered: devices send it on every request. */
const CACHE_MS = 60_000;

/**
 * HTTP Basic authentication against the demo users. Accepts "user", "user@domain" and "DOMAIN\user".
 * Verified headers are cached (by hash) so that a Ping every few seconds does not cost an scrypt each.
 */
export class BasicAuth {
  readonly #users: DemoUsers;
  readonly #cache = new Map<string, { user: DemoUser; until: number }>();

  constructor(users: DemoUsers) {
    this.#users = users;
  }

  async authenticate(header: string | undefined): Promise<DemoUser | undefined> {
    if (!header?.startsWith('Basic ')) return undefined;
    const digest = createHash('sha256').update(header).digest('base64');
    const hit = this.#cache.get(digest);
    if (hit && hit.until > Date.now()) return hit.user;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const login = decoded.slice(0, colon).replace(/^.*\\/, '');
    const password = decoded.slice(colon + 1);
    const name = login.includes('@') ? (this.#users.byEmail(login)?.user ?? login) : login;
    const user = await this.#users.verify(name, password);
    if (user) {
      if (this.#cache.size > 1000) this.#cache.clear();
      this.#cache.set(digest, { user, until: Date.now() + CACHE_MS });
    }
    return user;
  }

  /** True when the query's User names the authenticated user (login or address). */
  static matches(user: DemoUser, queryUser: string | undefined): boolean {
    if (!queryUser) return true;
    const q = queryUser.replace(/^.*\\/, '').toLowerCase();
    return q === user.user.toLowerCase() || q === user.email.toLowerCase();
  }
}
