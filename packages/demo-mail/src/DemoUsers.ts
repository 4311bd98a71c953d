import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { WebmailError, WebmailErrorCodes } from './errors.js';
import { dataFile } from './dataFile.js';

/** packages/demo-mail/data/users.json: the demo accounts, passwords stored as scrypt hashes. */
export const DEMO_USERS_FILE = dataFile('users.json');

/**
 * The demo logins, in clear, for the launcher's banner and the README. Only the scrypt hashes of
 * these are in users.json; `npm run webtier -- hash-password <pw>` hashes a new one.
 */
export const DEMO_LOGINS: ReadonlyArray<{ user: string; password: string }> = Object.freeze([
  { user: 'alice', password: 'wonderland' },
  { user: 'bob', password: 'builder' },
]);

export interface DemoUser {
  /** Login name. */
  user: string;
  /** Display name. */
  name: string;
  email: string;
}

interface StoredUser extends DemoUser {
  /** `scrypt$N$r$p$<salt base64>$<hash base64>` */
  password: string;
}

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 } as const;

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** Hashes a password for users.json (`scrypt$N$r$p$salt$hash`). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** The demo accounts, loaded once from a JSON file; `verify` checks a password in constant time. */
export class DemoUsers {
  readonly #users: Map<string, StoredUser>;

  constructor(users: StoredUser[]) {
    this.#users = new Map(users.map((u) => [u.user, u]));
  }

  /** Reads and validates a users file (default: the app's data/users.json). */
  static load(file: string = DEMO_USERS_FILE): DemoUsers {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (cause) {
      throw new WebmailError(WebmailErrorCodes.BAD_USERS_FILE, `users file ${file}: ${(cause as Error).message}`, { cause });
    }
    if (!Array.isArray(parsed)) throw new WebmailError(WebmailErrorCodes.BAD_USERS_FILE, `users file ${file}: expected an array of { user, name, email, password }`);
    const users = parsed.map((u: Partial<StoredUser>, i) => {
      for (const field of ['user', 'name', 'email', 'password'] as const) {
        if (typeof u?.[field] !== 'string' || u[field] === '') {
          throw new WebmailError(WebmailErrorCodes.BAD_USERS_FILE, `users file ${file}: [${i}].${field} must be a non-empty string`);
        }
      }
      if (!/^scrypt\$\d+\$\d+\$\d+\$[^$]+\$[^$]+$/.test(u.password!)) {
        throw new WebmailError(WebmailErrorCodes.BAD_USERS_FILE, `users file ${file}: [${i}].password must be "scrypt$N$r$p$salt$hash" (make one with hashPassword)`);
      }
      return u as StoredUser;
    });
    return new DemoUsers(users);
  }

  /** The user if `password` is theirs, else undefined. Unknown users cost the same scrypt as known ones. */
  async verify(user: string, password: string): Promise<DemoUser | undefined> {
    const stored = this.#users.get(user);
    const [, n, r, p, salt, hash] = (stored?.password ?? `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$AAAAAAAAAAAAAAAAAAAAAA==$`).split('$');
    const expected = Buffer.from(hash ?? '', 'base64');
    const key = await scrypt(password, Buffer.from(salt ?? '', 'base64'), expected.length || SCRYPT.keylen, { N: Number(n), r: Number(r), p: Number(p) });
    if (!stored || expected.length !== key.length || !timingSafeEqual(expected, key)) return undefined;
    return { user: stored.user, name: stored.name, email: stored.email };
  }

  /** The user named `user` (no password check). */
  find(user: string): DemoUser | undefined {
    const u = this.#users.get(user);
    return u && { user: u.user, name: u.name, email: u.email };
  }

  /** The user whose address is `email`, case-insensitively. */
  byEmail(email: string): DemoUser | undefined {
    const wanted = email.trim().toLowerCase();
    for (const u of this.#users.values()) if (u.email.toLowerCase() === wanted) return this.find(u.user);
    return undefined;
  }
}
