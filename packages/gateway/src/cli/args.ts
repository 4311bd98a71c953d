import { parseArgs } from 'node:util';

/**
 * The CLI's exit codes (documented in the package README and `--help`). systemd's
 * Restart=on-failure restarts on every non-zero one except usage and config errors, which the unit
 * lists in RestartPreventExitStatus: restarting cannot fix a typo.
 */
export const EXIT = {
  /** --check passed, --help/--version, or stopped by SIGTERM/SIGINT after draining. */
  OK: 0,
  /** The config file is unreadable or invalid (every problem is printed by path). */
  BAD_CONFIG: 1,
  /** Unknown option or missing argument. */
  USAGE: 2,
  /** Could not start: a listener could not bind (address in use, port < 1024 without the capability), or every worker died at start. */
  START_FAILED: 3,
  /** Stopping failed (an error while draining). */
  STOP_FAILED: 4,
  /** `check`: the gateway is not ready (draining, no healthy endpoint, or no answer within the timeout). */
  NOT_READY: 5,
} as const;

export const USAGE = `usage: webtier-gateway --config <gateway.yaml|gateway.json> [options]
       webtier-gateway check [--admin <url>] [--timeout-ms <ms>]
       webtier-gateway keepalived --interface <if> --vip <addr/len> --vip <addr/len> (--host 1|2 --password <pw> | --out-dir <dir>) [options]

  --config, -c <file>     the gateway config (YAML or JSON)
  --check                 validate the config and the TLS certificate/key files and exit: 0 when
                          valid, 1 listing every problem by path
  --workers <n|auto>      worker processes behind the listeners (overrides the config's workers;
                          auto = one per core); 1 runs everything in one process
  --log-format <fmt>      json (default: one JSON object per line on stdout) or pretty (for humans)
  --version, -v           print the version
  --help, -h              this text

  check                   probe the local gateway's admin /readyz (for keepalived's vrrp_script):
                          exit 0 when ready, 5 with one line why (default --admin http://127.0.0.1:9901,
                          --timeout-ms 1000)
  keepalived              keepalived.conf for the two-gateway layout (host 1 masters the first --vip,
                          host 2 the second; a failed check moves the address): --host prints one host's,
                          --out-dir writes both; --peer <host1 addr> --peer <host2 addr> for unicast VRRP,
                          --router-id (51), --admin, --bin (this bin's path), --failover fault|weight
                          (fault, the default: a failed check is a FAULT and a priority-0 advert, the peer
                          takes over in about 0.6 s; weight: the Kolab guide's weight -101, about 3.6 s);
                          see deploy/README.md

signals:   SIGTERM/SIGINT drain (/readyz 503 at once; after drainDelayMs no new connections;
           in-flight requests get drainTimeoutMs) then exit 0; SIGHUP reloads the config file and the TLS certificate/key
           files (a bad file or pair is logged and the running config and certificates stay; open
           connections keep theirs). Send them to the pid of webtier-gateway itself: start it directly
           (or with exec), not through npm run or npx, which do not forward signals.
exit codes: 0 ok, 1 config invalid/unreadable, 2 usage, 3 could not start (bind failed),
           4 error while stopping, 5 check: not ready`;

/** What the command line asked for. */
export type Command =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'serve'; config: string; check: boolean; workers: number | 'auto' | undefined; logFormat: 'json' | 'pretty' }
  | { kind: 'check'; admin: string; timeoutMs: number }
  | { kind: 'keepalived'; argv: string[] };

/** A command-line problem: exit 2 with this message and the usage. */
export class UsageError extends Error {}

function parseWorkers(value: string | undefined): number | 'auto' | undefined {
  if (value === undefined || value === 'auto') return value;
  if (!/^[1-9][0-9]{0,3}$/.test(value)) throw new UsageError(`--workers: "${value}" is not a whole number from 1 to 9999 or "auto"`);
  return Number(value);
}

/** Parses argv (without node and the script); throws UsageError. */
export function parseCommand(argv: string[]): Command {
  if (argv[0] === 'keepalived') return { kind: 'keepalived', argv: argv.slice(1) };
  if (argv[0] === 'check') {
    let values: { admin?: string | undefined; 'timeout-ms'?: string | undefined; help?: boolean | undefined };
    try {
      ({ values } = parseArgs({ args: argv.slice(1), options: { admin: { type: 'string' }, 'timeout-ms': { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (values.help) return { kind: 'help' };
    const t = values['timeout-ms'] ?? '1000';
    if (!/^[1-9][0-9]{0,5}$/.test(t)) throw new UsageError(`--timeout-ms: "${t}" is not a whole number of milliseconds (1..999999)`);
    return { kind: 'check', admin: values.admin ?? 'http://127.0.0.1:9901', timeoutMs: Number(t) };
  }
  let values: { config?: string | undefined; check?: boolean | undefined; workers?: string | undefined; 'log-format'?: string | undefined; version?: boolean | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        check: { type: 'boolean' },
        workers: { type: 'string' },
        'log-format': { type: 'string' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  if (!values.config) throw new UsageError('--config is required');
  const logFormat = values['log-format'] ?? 'json';
  if (logFormat !== 'json' && logFormat !== 'pretty') throw new UsageError(`--log-format: "${logFormat}" is not json or pretty`);
  return { kind: 'serve', config: values.config, check: values.check ?? false, workers: parseWorkers(values.workers), logFormat };
}
