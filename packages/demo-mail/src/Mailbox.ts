import { readFileSync } from 'node:fs';
import type { Store } from 'express-session';
import { WebmailError, WebmailErrorCodes } from './errors.js';
import { dataFile } from './dataFile.js';

/** packages/demo-mail/data/messages.json: the messages every demo mailbox starts with. */
export const DEMO_MESSAGES_FILE = dataFile('messages.json');

export interface MailMessage {
  uid: string;
  from: string;
  to?: string;
  subject: string;
  /** ISO 8601 */
  date: string;
  body: string;
  unread?: boolean;
}

/** Loads and checks the demo messages file. */
export function loadDemoMessages(file: string = DEMO_MESSAGES_FILE): MailMessage[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new WebmailError(WebmailErrorCodes.BAD_MESSAGES_FILE, `messages file ${file}: ${(cause as Error).message}`, { cause });
  }
  if (!Array.isArray(parsed)) throw new WebmailError(WebmailErrorCodes.BAD_MESSAGES_FILE, `messages file ${file}: expected an array of messages`);
  parsed.forEach((m: Partial<MailMessage>, i) => {
    for (const field of ['uid', 'from', 'subject', 'date', 'body'] as const) {
      if (typeof m?.[field] !== 'string') throw new WebmailError(WebmailErrorCodes.BAD_MESSAGES_FILE, `messages file ${file}: [${i}].${field} must be a string`);
    }
  });
  return parsed as MailMessage[];
}

/** How long delivered demo messages are kept. */
const MAILBOX_TTL_MS = 24 * 3600 * 1000;
/** Delivered messages kept per mailbox (it is a demo). */
const MAILBOX_LIMIT = 50;

interface StoredMailbox {
  cookie: { originalMaxAge: number; expires: string };
  messages: MailMessage[];
}

/**
 * The demo mail store: the fixed demo messages plus the messages delivered by "Send", which are kept
 * in the replicated session store under `mailbox:<user>`, so that every webmail and ActiveSync node
 * sees them (and an ActiveSync Ping wakes up when one arrives).
 */
export class Mailbox {
  readonly #store: Store;
  readonly #demo: MailMessage[];

  constructor(store: Store, demoMessages: MailMessage[] = loadDemoMessages()) {
    this.#store = store;
    this.#demo = [...demoMessages].sort((a, b) => b.date.localeCompare(a.date));
  }

  static key(user: string): string {
    return `mailbox:${user}`;
  }

  /** Messages delivered to `user`, newest first. */
  async delivered(user: string): Promise<MailMessage[]> {
    const stored = await new Promise<StoredMailbox | null | undefined>((resolve, reject) =>
      this.#store.get(Mailbox.key(user), (err, value) => (err ? reject(err) : resolve(value as unknown as StoredMailbox))),
    );
    return Array.isArray(stored?.messages) ? stored.messages : [];
  }

  /** Every message of `user`'s inbox, newest first. */
  async inbox(user: string): Promise<MailMessage[]> {
    return [...(await this.delivered(user)), ...this.#demo];
  }

  async find(user: string, uid: string): Promise<MailMessage | undefined> {
    return (await this.inbox(user)).find((m) => m.uid === uid);
  }

  /** Appends a message to `user`'s inbox (last writer wins between two concurrent deliveries: a demo). */
  async deliver(user: string, message: Omit<MailMessage, 'uid'>): Promise<MailMessage> {
    const messages = await this.delivered(user);
    const delivered: MailMessage = { ...message, uid: `${Date.now()}${Math.floor(Math.random() * 1000).toString().padStart(3, '0')}`, unread: true };
    const value: StoredMailbox = {
      cookie: { originalMaxAge: MAILBOX_TTL_MS, expires: new Date(Date.now() + MAILBOX_TTL_MS).toISOString() },
      messages: [delivered, ...messages].slice(0, MAILBOX_LIMIT),
    };
    await new Promise<void>((resolve, reject) =>
      this.#store.set(Mailbox.key(user), value as never, (err) => (err ? reject(err) : resolve())),
    );
    return delivered;
  }
}
