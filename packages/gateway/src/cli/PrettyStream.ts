/**
 * A pino destination for `--log-format pretty`: each JSON line becomes
 * `22:01:02.345 INFO  gateway listening  listeners=["http://0.0.0.0:8080"]`. Written here rather
 * than with pino-pretty: a dozen lines, no extra dependency, no worker thread.
 */
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

export class PrettyStream {
  constructor(private readonly out: { write(chunk: string): unknown } = process.stdout) {}

  write(line: string): void {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.out.write(line);
      return;
    }
    const time = typeof rec['time'] === 'number' ? new Date(rec['time']).toISOString().slice(11, 23) : '';
    const level = LEVELS[rec['level'] as number] ?? String(rec['level']);
    const fields = Object.entries(rec)
      .filter(([k]) => !SKIP.has(k))
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    this.out.write(`${time} ${level} ${String(rec['msg'] ?? '')}${fields ? `  ${fields}` : ''}\n`);
  }
}
