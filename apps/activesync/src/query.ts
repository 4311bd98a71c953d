import { ACTIVESYNC_COMMAND_CODES, decodeActiveSyncQuery } from '@webtier/gateway';
import { ActiveSyncError, ActiveSyncErrorCodes } from './errors.js';

/** MS-ASHTTP 2.2.1.1.1.1.2: command codes of the base64-encoded query (the gateway's table). */
export const COMMAND_CODES = ACTIVESYNC_COMMAND_CODES;

export interface ActiveSyncQuery {
  /** Which of the two MS-ASHTTP query forms the client used. */
  form: 'plain' | 'base64';
  cmd: string;
  deviceId: string;
  deviceType: string;
  user?: string;
  /** e.g. "14.1"; base64 form only (the plain form sends MS-ASProtocolVersion as a header). */
  protocolVersion?: string;
  policyKey?: number;
  locale?: number;
  /** Other parameters (CollectionId, ItemId, ...). */
  params: Record<string, string>;
}

function bad(message: string): ActiveSyncError {
  return new ActiveSyncError(ActiveSyncErrorCodes.BAD_QUERY, message);
}

/** Decodes the base64-encoded query of MS-ASHTTP (what Windows Phone and Outlook send), with the gateway's decoder. */
export function decodeBase64Query(encoded: string): ActiveSyncQuery {
  const { query, error } = decodeActiveSyncQuery(encoded);
  if (!query) throw bad(error);
  if (!query.cmd) throw bad(`base64 query: unknown command code ${query.commandCode}`);
  const { User: user, ...params } = query.params;
  return {
    form: 'base64', cmd: query.cmd, deviceId: query.deviceId, deviceType: query.deviceType, params, locale: query.locale,
    protocolVersion: query.protocolVersion,
    ...(user ? { user } : {}),
    ...(query.policyKey !== undefined ? { policyKey: query.policyKey } : {}),
  };
}

/** Encodes a base64 query (for tests, clients and the gateway's tests). */
export function encodeBase64Query(q: { cmd: string; deviceId: string; deviceType: string; user?: string; protocolVersion?: string; locale?: number; policyKey?: number }): string {
  const code = Object.entries(COMMAND_CODES).find(([, name]) => name === q.cmd)?.[0];
  if (code === undefined) throw bad(`unknown command "${q.cmd}"`);
  const [major, minor] = (q.protocolVersion ?? '14.1').split('.').map(Number);
  const parts: number[] = [major! * 10 + minor!, Number(code), (q.locale ?? 0x409) & 0xff, (q.locale ?? 0x409) >> 8];
  const add = (s: string) => {
    const b = Buffer.from(s, 'latin1');
    parts.push(b.length, ...b);
  };
  add(q.deviceId);
  if (q.policyKey !== undefined) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(q.policyKey);
    parts.push(4, ...b);
  } else parts.push(0);
  add(q.deviceType);
  if (q.user) {
    parts.push(8);
    add(q.user);
  }
  return Buffer.from(parts).toString('base64');
}

/**
 * Reads either query form: `Cmd=Sync&User=..&DeviceId=..&DeviceType=..` or the base64 blob.
 * Throws EAS_ERR_BAD_QUERY naming what is missing.
 */
export function parseActiveSyncQuery(rawQuery: string): ActiveSyncQuery {
  if (rawQuery === '') throw bad('missing query: expected Cmd=..&User=..&DeviceId=..&DeviceType=.. or the base64-encoded form');
  if (!rawQuery.includes('=') || /^[A-Za-z0-9+/%]+={0,2}$/.test(rawQuery) && !/(^|&)Cmd=/i.test(rawQuery)) {
    return decodeBase64Query(rawQuery);
  }
  const params = new URLSearchParams(rawQuery);
  const get = (name: string) => {
    for (const [k, v] of params) if (k.toLowerCase() === name.toLowerCase()) return v;
    return undefined;
  };
  const cmd = get('Cmd');
  const deviceId = get('DeviceId');
  const deviceType = get('DeviceType') ?? '';
  if (!cmd) throw bad('query: Cmd is missing (e.g. Cmd=FolderSync)');
  if (!deviceId) throw bad('query: DeviceId is missing');
  const user = get('User');
  const rest: Record<string, string> = {};
  for (const [k, v] of params) if (!/^(cmd|deviceid|devicetype|user)$/i.test(k)) rest[k] = v;
  return { form: 'plain', cmd, deviceId, deviceType, params: rest, ...(user ? { user } : {}) };
}
