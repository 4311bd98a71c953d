/**
 * The one decoder of ActiveSync's base64-encoded query (MS-ASHTTP 2.2.1.1.1.1), used by the
 * gateway's ring_hash and long-poll detection and by apps/activesync: protocol version byte, command
 * code byte, locale uint16 LE, DeviceId (length byte + bytes), policy key (length byte 0 or 4 +
 * uint32 LE), DeviceType (length byte + bytes), then tag/length/value parameters.
 */

/** MS-ASHTTP 2.2.1.1.1.1.2 command codes. */
export const ACTIVESYNC_COMMAND_CODES: Readonly<Record<number, string>> = Object.freeze({
  0: 'Sync', 1: 'SendMail', 2: 'SmartForward', 3: 'SmartReply', 4: 'GetAttachment', 9: 'FolderSync', 10: 'FolderCreate', 11: 'FolderDelete',
  12: 'FolderUpdate', 13: 'MoveItems', 14: 'GetItemEstimate', 15: 'MeetingResponse', 16: 'Search', 17: 'Settings', 18: 'Ping', 19: 'ItemOperations',
  20: 'Provision', 21: 'ResolveRecipients', 22: 'ValidateCert',
});
/** MS-ASHTTP 2.2.1.1.1.1.3 command parameter tags. */
const PARAMETER_TAGS: Readonly<Record<number, string>> = { 0: 'AttachmentName', 1: 'CollectionId', 2: 'CollectionName', 3: 'ItemId', 4: 'LongId', 5: 'ParentId', 6: 'Occurrence', 7: 'Options', 8: 'User' };
const PRINTABLE = /^[\x21-\x7e]*$/;

/** A decoded base64 query. */
export interface ActiveSyncBase64Query {
  /** e.g. "14.1" */
  protocolVersion: string;
  commandCode: number;
  /** The command's name as the plain form spells it (`Ping`); undefined for a code MS-ASHTTP does not define. */
  cmd: string | undefined;
  locale: number;
  /** A binary DeviceId is given in hex, as Z-Push does, so both query forms of one device give the same id. */
  deviceId: string;
  deviceType: string;
  policyKey?: number;
  /** The parameters by tag name (`User`, `CollectionId`, ...; `Tag<n>` for an unknown tag). */
  params: Record<string, string>;
}

/**
 * Decodes the blob (percent-encoded or not). Never throws: a malformed blob (hostile or truncated)
 * gives `{ error }` naming the field that does not fit.
 */
export function decodeActiveSyncQuery(encoded: string): { query: ActiveSyncBase64Query; error?: undefined } | { query?: undefined; error: string } {
  let bytes: Buffer;
  try {
    bytes = Buffer.from(encoded.includes('%') ? decodeURIComponent(encoded) : encoded, 'base64');
  } catch {
    return { error: 'base64 query: malformed percent-encoding' };
  }
  let at = 0;
  const past = (what: string) => ({ error: `base64 query: ${what} runs past the end (${bytes.length} bytes)` });
  const str = (n: number): string => {
    const slice = bytes.subarray(at, at + n);
    at += n;
    const text = slice.toString('latin1');
    return PRINTABLE.test(text) ? text : slice.toString('hex');
  };
  if (bytes.length < 5) return past('header');
  const version = bytes[0]!;
  const commandCode = bytes[1]!;
  const locale = bytes.readUInt16LE(2);
  at = 4;
  const deviceIdLength = bytes[at++]!;
  if (at + deviceIdLength > bytes.length) return past('DeviceId');
  const deviceId = str(deviceIdLength);
  const policyKeyLength = bytes[at++];
  if (policyKeyLength === undefined) return past('policy key length');
  if (policyKeyLength !== 0 && policyKeyLength !== 4) return { error: `base64 query: policy key length ${policyKeyLength} must be 0 or 4` };
  if (at + policyKeyLength > bytes.length) return past('policy key');
  const policyKey = policyKeyLength === 4 ? bytes.readUInt32LE(at) : undefined;
  at += policyKeyLength;
  const deviceTypeLength = bytes[at++];
  if (deviceTypeLength === undefined) return past('DeviceType length');
  if (at + deviceTypeLength > bytes.length) return past('DeviceType');
  const deviceType = str(deviceTypeLength);
  const params: Record<string, string> = {};
  while (at < bytes.length) {
    const tag = bytes[at++]!;
    const length = bytes[at++];
    if (length === undefined || at + length > bytes.length) return past(`parameter ${tag}`);
    params[PARAMETER_TAGS[tag] ?? `Tag${tag}`] = str(length);
  }
  return {
    query: {
      protocolVersion: `${Math.floor(version / 10)}.${version % 10}`,
      commandCode,
      cmd: ACTIVESYNC_COMMAND_CODES[commandCode],
      locale,
      deviceId,
      deviceType,
      ...(policyKey !== undefined ? { policyKey } : {}),
      params,
    },
  };
}
