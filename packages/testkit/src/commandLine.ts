/**
 * The frame of the repo's command-line tools (the demo launcher `webtier`, the lab `webtier-lab`):
 * what a command switch does with no command, `help` and an unknown one, and how a failed command is
 * reported (`tool: [CODE] message`, exit 1).
 */

/** For the `default:` of a command switch: prints `usage` for no command or help, else throws `badArgs` naming the command. */
export function helpOrUnknown(command: string | undefined, usage: string, badArgs: (message: string) => Error): void {
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(usage);
    return;
  }
  throw badArgs(`unknown command "${command}"\n\n${usage}`);
}

/** Runs a tool's `main`; a rejection is printed as `tool: [CODE] message` on stderr and exits 1. */
export function runMain(tool: string, main: () => Promise<void>): void {
  main().catch((err: Error & { code?: string }) => {
    process.stderr.write(`${tool}: ${err.code ? `[${err.code}] ` : ''}${err.message}\n`);
    process.exit(1);
  });
}
