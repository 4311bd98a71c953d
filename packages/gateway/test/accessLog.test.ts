import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { AccessLog, type AccessRecord } from '../src/AccessLog.js';

/** A pino logger (fastify's) writing into `lines`. */
function pinoInto(lines: string[], level = 'info') {
  return Fastify({ logger: { level, stream: { write: (s: string) => void lines.push(s) } } }).log;
}

const records: AccessRecord[] = [
  { route: '/', cluster: 'webmail', endpoint: '10.0.0.12:8000', method: 'GET', url: '/?_task=mail&_mbox=INBOX', status: 200, durationMs: 3.1, retries: 0, requestId: 'f1c3…' },
  {
    route: '/Microsoft-Server-ActiveSync',
    cluster: 'activesync',
    endpoint: '10.0.0.21:8000',
    method: 'POST',
    url: '/Microsoft-Server-ActiveSync?Cmd=Ping&x="quoted"\\back\u0001ctl\u2028',
    status: 504,
    durationMs: 3660000,
    retries: 2,
    requestId: 'id with "quotes" from a trusted proxy',
    error: 'GW_ERR_UPSTREAM_TIMEOUT',
  },
];

describe('access log', () => {
  it.each(records)('the fast line equals what pino writes for the same record ($status)', (record) => {
    const viaPino: string[] = [];
    new AccessLog(undefined).write(pinoInto(viaPino), record);
    const direct: string[] = [];
    new AccessLog({ write: (s: string) => direct.push(s) }).write(pinoInto([]), record);
    expect(direct).toHaveLength(1);
    expect(direct[0]!.endsWith('}\n')).toBe(true);
    const a = JSON.parse(viaPino[0]!) as Record<string, unknown>;
    const b = JSON.parse(direct[0]!) as Record<string, unknown>;
    expect(Math.abs((a['time'] as number) - (b['time'] as number))).toBeLessThan(1000);
    delete a['time'];
    delete b['time'];
    expect(b).toEqual(a);
    // Same keys in the same order as pino's own line.
    expect(Object.keys(b)).toEqual(Object.keys(a));
  });

  it('writes nothing when the level is above info', () => {
    const direct: string[] = [];
    new AccessLog({ write: (s: string) => direct.push(s) }).write(pinoInto([], 'warn'), records[0]!);
    expect(direct).toEqual([]);
  });
});
