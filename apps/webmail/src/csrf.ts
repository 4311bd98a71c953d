import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';

/** A new request token, kept in the session at login (Roundcube's `_token`). */
export function newCsrfToken(): string {
  return randomBytes(24).toString('base64url');
}

/** True when the request carries the session's token, in the form field `_token`, the query or X-CSRF-Token. */
export function hasValidCsrfToken(req: Request): boolean {
  const expected = req.session.csrf;
  const body = req.body as Record<string, unknown> | undefined;
  const given = (typeof body?.['_token'] === 'string' && body['_token']) || req.get('x-csrf-token') || (typeof req.query['_token'] === 'string' && req.query['_token']) || '';
  if (!expected || typeof given !== 'string' || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}
