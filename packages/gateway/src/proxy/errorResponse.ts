import { statusOf, type GatewayErrorCode } from '../errors.js';
import type { ClientReply } from './ClientReply.js';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  421: 'Misdirected Request',
  431: 'Request Header Fields Too Large',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** What a person reads on the HTML page: plain words, no internal names or addresses. */
const PLAIN_WORDS: Record<number, string> = {
  400: 'The request could not be understood.',
  404: 'There is nothing at this address.',
  408: 'The request took too long to arrive.',
  413: 'The upload is too large.',
  431: 'The request carried too many headers.',
  502: 'The service behind this gateway failed to answer properly. Please try again in a moment.',
  503: 'The service is temporarily unavailable. Please try again in a moment.',
  504: 'The service took too long to answer. Please try again in a moment.',
};

/** How error answers look: `Retry-After` of 503s and the operator's own HTML pages by status. */
export interface ErrorPages {
  /** Seconds in the Retry-After header of 503 answers. */
  readonly retryAfterSeconds: number;
  /** HTML bodies by status (read from `errorPages` files at load). */
  readonly html: ReadonlyMap<number, string>;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Whether the client's Accept prefers text/html to JSON (a browser), by q-value then order. */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept || !accept.includes('html')) return false;
  let html = -1;
  let json = -1;
  let htmlAt = -1;
  let jsonAt = -1;
  accept.split(',').forEach((part, i) => {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qp ? Number(qp.slice(2)) : 1;
    if (type === 'text/html' && q > html) [html, htmlAt] = [q, i];
    if ((type === 'application/json' || type === '*/*') && q > json) [json, jsonAt] = [q, i];
  });
  if (html <= 0) return false;
  return html > json || (html === json && htmlAt < jsonAt);
}

/** The small built-in HTML page: status, what happened in plain words, the request id. */
export function htmlPage(status: number, requestId: string): string {
  const title = `${status} ${STATUS_TEXT[status] ?? 'Error'}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:10vh auto;padding:0 1em;color:#222}small{color:#666}</style></head>
<body><h1>${title}</h1><p>${PLAIN_WORDS[status] ?? 'The request failed.'}</p><p><small>Request id: ${esc(requestId)}</small></p></body></html>
`;
}

/**
 * Answers a gateway error: JSON `{ statusCode, error, code, message }` by default, a small HTML page
 * (or the operator's page for that status) when the client prefers text/html; 503s carry Retry-After.
 */
export function sendError(reply: ClientReply, code: GatewayErrorCode, message: string, requestId: string, pages: ErrorPages | undefined): void {
  if (reply.sent || reply.raw.headersSent) return;
  const status = statusOf(code);
  reply.code(status);
  reply.header('x-request-id', requestId);
  if (status === 503 && pages) reply.header('retry-after', String(pages.retryAfterSeconds));
  if (prefersHtml(reply.request.headers.accept)) {
    reply.header('content-type', 'text/html; charset=utf-8');
    reply.header('cache-control', 'no-store');
    reply.send(pages?.html.get(status) ?? htmlPage(status, requestId));
    return;
  }
  reply.header('content-type', 'application/json; charset=utf-8');
  reply.send(JSON.stringify({ statusCode: status, error: STATUS_TEXT[status] ?? 'Error', code, message }));
}
