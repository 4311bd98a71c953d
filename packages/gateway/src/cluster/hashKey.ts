import type { IncomingHttpHeaders } from 'node:http';

/** What ring_hash hashes on: exactly one of the three. */
export interface HashOn {
  query?: string | undefined;
  header?: string | undefined;
  cookie?: string | undefined;
}

const PRINTABLE = /^[\x21-\x7e]*$/;
const BASE64_QUERY = /^[A-Za-z0-9+/%]+={0,2}$/;
/** MS-ASHTTP 2.2.1.1.1.1.2 command codes. */
const COMMAND_CODES: Readonly<Record<number, string>> = {
  0: 'Sync', 1: 'SendMail', 2: 'SmartForward', 3: 'SmartReply', 4: 'GetAttachment', 9: 'FolderSync', 10: 'FolderCreate', 11: 'FolderDelete',
  12: 'FolderUpdate', 13: 'MoveItems', 14: 'GetItemEstimate', 15: 'MeetingResponse', 16: 'Search', 17: 'Settings', 18: 'Ping', 19: 'ItemOperations',
  20: 'Provision', 21: 'ResolveRecipients', 22: 'ValidateCert',
};
/** MS-ASHTTP 2.2.1.1.1.1.3 command parameter tags. */
const PARAMETER_TAGS: Readonly<Record<number, string>> = { 0: 'AttachmentName', 1: 'CollectionId', 2: 'CollectionName', 3: 'ItemId', 4: 'LongId', 5: 'ParentId', 6: 'Occurrence', 7: 'Options', 8: 'User' };

/**
 * Reads the fields of ActiveSync's base64-encoded query (MS-ASHTTP 2.2.1.1.1.1): protocol version
 * byte, command code byte, locale uint16 LE, DeviceId (length byte + bytes), policy key (length
 * byte 0 or 4 + bytes), DeviceType (length byte + bytes), then tag/length/value parameters; the
 * command code is returned as `Cmd` (its name, as the plain form spells it).
 * Returns undefined when the blob is not well formed. A binary DeviceId is returned in hex, as
 * Z-Push and apps/activesync do, so both query forms of one device give the same key.
 */
export function decodeActiveSyncBase64Query(rawQuery: string): Record<string, string> | undefined {
  let bytes: Buffer;
  try {
    bytes = Buffer.from(rawQuery.includes('%') ? decodeURIComponent(rawQuery) : rawQuery, 'base64');
  } catch {
    return undefined;
  }
  let at = 4;
  if (bytes.length < 7) return undefined;
  const out: Record<string, string> = {};
  out['Cmd'] = COMMAND_CODES[bytes[1]!] ?? `Command${bytes[1]}`;
  const str = (what: string): boolean => {
    const n = bytes[at++];
    if (n === undefined || at + n > bytes.length) return false;
    const slice = bytes.subarray(at, at + n);
    at += n;
    const text = slice.toString('latin1');
    out[what] = PRINTABLE.test(text) ? text : slice.toString('hex');
    return true;
  };
  if (!str('DeviceId')) return undefined;
  const policyKeyLength = bytes[at++];
  if (policyKeyLength !== 0 && policyKeyLength !== 4) return undefined;
  at += policyKeyLength;
  if (at > bytes.length || !str('DeviceType')) return undefined;
  while (at < bytes.length) {
    const tag = bytes[at++]!;
    if (!str(PARAMETER_TAGS[tag] ?? `Tag${tag}`)) return undefined;
  }
  return out;
}

/** A query parameter's value in the plain form (`?Cmd=Ping&...`), name compared case-insensitively. */
export function queryParam(rawQuery: string, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const part of rawQuery.split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    if (part.slice(0, eq).toLowerCase() !== lower) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '));
    } catch {
      return part.slice(eq + 1);
    }
  }
  return undefined;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * A query field of a request in either ActiveSync query form: the plain parameter, else the field of
 * the base64-encoded query (MS-ASHTTP), names compared case-insensitively.
 */
export function queryField(url: string, name: string): string | undefined {
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const rawQuery = url.slice(q + 1);
  const plain = queryParam(rawQuery, name);
  if (plain) return plain;
  if (!rawQuery.includes('&') && BASE64_QUERY.test(rawQuery)) {
    const fields = decodeActiveSyncBase64Query(rawQuery);
    const lower = name.toLowerCase();
    for (const [k, v] of Object.entries(fields ?? {})) if (k.toLowerCase() === lower) return v || undefined;
  }
  return undefined;
}

/** The ring_hash key of a request, or undefined when the request does not carry it. */
export function hashKeyOf(hashOn: HashOn | undefined, url: string, headers: IncomingHttpHeaders): string | undefined {
  if (!hashOn) return undefined;
  if (hashOn.header !== undefined) {
    const v = headers[hashOn.header.toLowerCase()];
    return Array.isArray(v) ? v[0] : v || undefined;
  }
  if (hashOn.cookie !== undefined) return cookieValue(headers.cookie, hashOn.cookie) || undefined;
  if (hashOn.query === undefined) return undefined;
  return queryField(url, hashOn.query);
}
