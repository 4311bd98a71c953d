import type { IncomingHttpHeaders } from 'node:http';
import { decodeActiveSyncQuery } from './activeSyncQuery.js';

/** What ring_hash hashes on: exactly one of the three. */
export interface HashOn {
  query?: string | undefined;
  header?: string | undefined;
  cookie?: string | undefined;
}

const BASE64_QUERY = /^[A-Za-z0-9+/%]+={0,2}$/;

/**
 * The fields of ActiveSync's base64-encoded query as the plain form names them (`Cmd`, `DeviceId`,
 * `DeviceType`, `User`, ...), or undefined when the blob is not well formed. The command code of a
 * command MS-ASHTTP does not define is given as `Command<n>`.
 */
export function decodeActiveSyncBase64Query(rawQuery: string): Record<string, string> | undefined {
  const { query } = decodeActiveSyncQuery(rawQuery);
  if (!query) return undefined;
  return { Cmd: query.cmd ?? `Command${query.commandCode}`, DeviceId: query.deviceId, DeviceType: query.deviceType, ...query.params };
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
