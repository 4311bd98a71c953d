import { pino, type Logger } from 'pino';
import { PrettyStream } from './PrettyStream.js';

/** Log format of the CLI: JSON lines (pino's own format) or one readable line per record. */
export type LogFormat = 'json' | 'pretty';

/**
 * The CLI's logger. For `json` in a gateway process this returns undefined: the gateway makes its
 * own pino logger on its batched LogStream, whose access-log fast path a logger of ours would lose.
 */
export function gatewayLogger(format: LogFormat, level: string): Logger | undefined {
  return format === 'pretty' ? pino({ level }, new PrettyStream()) : undefined;
}

/** A logger for a process that is not a gateway (the primary of a multi-worker gateway). */
export function processLogger(format: LogFormat, level: string): Logger {
  return format === 'pretty' ? pino({ level }, new PrettyStream()) : pino({ level }, pino.destination({ dest: 1, sync: true }));
}

/** `GW_ERR_X: message` for a coded error, else its message. */
export function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ? `${e.code}: ${e.message}` : String(e.message ?? err);
}
