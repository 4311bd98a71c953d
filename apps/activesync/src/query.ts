import { ActiveSyncError, ActiveSyncErrorCodes } from './errors.js';

/** MS-ASHTTP 2.2.1.1.1.1.2: command codes of the base64-encoded query. */
export const COMMAND_CODES: Readonly<Record<number, string>> = Object.freeze({
  0: 'Sync', 1: 'SendMail', 2: 'SmartForward', 3: 'SmartReply', 4: 'GetAttachment', 9: 'FolderSync', 10: 'FolderCreate',
  11: 'FolderDelete', 12: 'FolderUpdate', 13: 'MoveItems', 14: 'GetItemEstimate', 15: 'MeetingResponse', 16: 'Search',
  17: 'Settings', 18: 'Ping', 19: 'ItemOperations', 20: 'Provision', 21: 'ResolveRecipients', 22: 'ValidateCert',
});

/** MS-ASHTTP 2.2.1.1.1.1.3: command parameter tags. */
const PARAMETER_TAGS: Readonly<Record<number, string>> = Object.freeze({
  0: 'AttachmentName', 1: 'CollectionId', 2: 'CollectionName', 3: 'ItemId', 4: 'LongId', 5: 'ParentId', 6: 'Occurrence', 7: 'Options', 8: 'User',
});

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

const PRINTABLE = /^[\x21-\x7e]*$/;

function bad(message: string): ActiveSyncError {
  return new ActiveSyncError(ActiveSyncErrorCodes.BAD_QUERY, message);
}

/** Decodes the base64-encoded query of MS-ASHTTP (what Windows Phone and Outlook send). */
export function decodeBase64Query(encoded: string): ActiveSyncQuery {
  const bytes = Buffer.from(decodeURIComponent(encoded), 'base64');
  let at = 0;
  const need = (n: number, what: string) => {
    if (at + n > bytes.length) throw bad(`base64 query: ${what} runs past the end (${bytes.length} bytes)`);
  };
  const str = (n: number, what: string) => {
    need(n, what);
    const slice = bytes.subarray(at, at + n);
    at += n;
    // DeviceId is binary for some clients; show it in hex then, as Z-Push does.
    const text = slice.toString('latin1');
    return PRINTABLE.test(text) ? text : slice.toString('hex');
  };
  need(5, 'header');
  const version = bytes[at++]!;
  const code = bytes[at++]!;
  const locale = bytes.readUInt16LE(at);
  at += 2;
  const cmd = COMMAND_CODES[code];
  if (!cmd) throw bad(`base64 query: unknown command code ${code}`);
  const deviceId = str(bytes[at++]!, 'DeviceId');
  need(1, 'policy key length');
  const policyKeyLength = bytes[at++]!;
  let policyKey: number | undefined;
  if (policyKeyLength === 4) {
    need(4, 'policy key');
    policyKey = bytes.readUInt32LE(at);
    at += 4;
  } else if (policyKeyLength !== 0) throw bad(`base64 query: policy key length ${policyKeyLength} must be 0 or 4`);
  need(1, 'DeviceType length');
  const deviceType = str(bytes[at++]!, 'DeviceType');
  const params: Record<string, string> = {};
  while (at < bytes.length) {
    need(2, 'parameter');
    const tag = bytes[at++]!;
    const length = bytes[at++]!;
    params[PARAMETER_TAGS[tag] ?? `Tag${tag}`] = str(length, `parameter ${tag}`);
  }
  const { User: user, ...rest } = params;
  return {
    form: 'base64', cmd, deviceId, deviceType, params: rest, locale,
    protocolVersion: `${Math.floor(version / 10)}.${version % 10}`,
    ...(user ? { user } : {}),
    ...(policyKey !== undefined ? { policyKey } : {}),
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
