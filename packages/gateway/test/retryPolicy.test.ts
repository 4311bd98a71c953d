import { describe, expect, it } from 'vitest';
import type { RetryOn } from '../src/config/schema.js';
import { RetryBudget } from '../src/proxy/RetryBudget.js';
import { classifyUpstreamError, RetryPolicy, type FailureKind } from '../src/proxy/RetryPolicy.js';

// Every retry decision is RetryPolicy's: a table of (settings, method, body, what happened) → retried?

const settings = (retryOn: RetryOn[], maxRetries = 2, perTryTimeoutMs = 0) => ({ maxRetries, retryOn: new Set(retryOn), maxBufferedBodyBytes: 1024, budgetPercent: 20, minRetryConcurrency: 1, perTryTimeoutMs });
const DEFAULT: RetryOn[] = ['connect-failure', 'reset'];
const ALL: RetryOn[] = ['connect-failure', 'reset', 'gateway-error'];

const cases: Array<{ name: string; retryOn: RetryOn[]; method: string; replayable?: boolean; events: Array<FailureKind | number>; expected: boolean[] }> = [
  { name: 'connect failure: any method, POST included', retryOn: DEFAULT, method: 'POST', events: ['connect'], expected: [true] },
  { name: 'reset: idempotent GET', retryOn: DEFAULT, method: 'GET', events: ['reset'], expected: [true] },
  { name: 'reset: never a POST (it may have been processed)', retryOn: DEFAULT, method: 'POST', events: ['reset'], expected: [false] },
  { name: 'timeout and protocol errors: never', retryOn: ALL, method: 'GET', events: ['timeout', 'protocol'], expected: [false, false] },
  { name: 'maxRetries caps the attempts', retryOn: DEFAULT, method: 'GET', events: ['connect', 'connect', 'connect'], expected: [true, true, false] },
  { name: 'a streamed (not replayable) body is never retried', retryOn: ALL, method: 'PUT', replayable: false, events: ['connect', 503], expected: [false, false] },
  { name: 'connect-failure off', retryOn: ['reset'], method: 'GET', events: ['connect'], expected: [false] },
  { name: '503 only with gateway-error', retryOn: DEFAULT, method: 'GET', events: [503], expected: [false] },
  { name: '502/503/504 with gateway-error on GET', retryOn: ALL, method: 'GET', events: [502, 504], expected: [true, true] },
  { name: '500 and 404 are answers, not retried', retryOn: ALL, method: 'GET', events: [500, 404], expected: [false, false] },
  { name: '503 of a POST is not retried', retryOn: ALL, method: 'POST', events: [503], expected: [false] },
];

describe('RetryPolicy decisions', () => {
  it.each(cases)('$name', ({ retryOn, method, replayable, events, expected }) => {
    const policy = new RetryPolicy(settings(retryOn), new RetryBudget(), method, replayable ?? true);
    const got = events.map((e) => (typeof e === 'number' ? policy.retryStatus(e, () => true) : policy.retryFailure(e)));
    policy.end();
    expect(got).toEqual(expected);
  });

  it('5xx retries spend the budget (minRetryConcurrency 1 here); connect retries do not', () => {
    const budget = new RetryBudget();
    const a = new RetryPolicy(settings(ALL), budget, 'GET', true);
    const b = new RetryPolicy(settings(ALL), budget, 'GET', true);
    expect(a.retryStatus(503, () => true)).toBe(true);
    expect(b.retryStatus(503, () => true)).toBe(false);
    expect(b.retryFailure('connect')).toBe(true);
    a.end();
    expect(budget.activeRetries).toBe(0);
    expect(b.retryStatus(503, () => true)).toBe(true);
    b.end();
    expect([budget.activeRequests, budget.activeRetries]).toEqual([0, 0]);
  });

  // perTryTimeoutMs 500 against a route timeout of 60 s unless the case says otherwise.
  it.each([
    { name: 'GET: per-try timeout applies, a timed-out attempt is retried', method: 'GET', replayable: true, routeTimeoutMs: 60_000, perTry: 500, retried: true },
    { name: 'POST: keeps the route timeout, never retried on timeout', method: 'POST', replayable: true, routeTimeoutMs: 60_000, perTry: 0, retried: false },
    { name: 'streamed PUT body: cannot be replayed, no per-try timeout', method: 'PUT', replayable: false, routeTimeoutMs: 60_000, perTry: 0, retried: false },
    { name: 'per-try not shorter than the route timeout: off', method: 'GET', replayable: true, routeTimeoutMs: 400, perTry: 0, retried: false },
    { name: 'route without timeout (0): per-try applies', method: 'GET', replayable: true, routeTimeoutMs: 0, perTry: 500, retried: true },
  ])('per-try timeout — $name', ({ method, replayable, routeTimeoutMs, perTry, retried }) => {
    const p = new RetryPolicy(settings(['connect-failure', 'reset'], 2, 500), new RetryBudget(), method, replayable, routeTimeoutMs);
    expect(p.perTryTimeoutMs).toBe(perTry);
    expect(p.retryFailure('timeout')).toBe(retried);
    p.end();
  });

  it('no 5xx retry when no untried endpoint is left', () => {
    const p = new RetryPolicy(settings(ALL), new RetryBudget(), 'GET', true);
    expect(p.retryStatus(503, () => false)).toBe(false);
  });

  it('classifies undici and socket errors', () => {
    expect(classifyUpstreamError({ code: 'ECONNREFUSED' })).toBe('connect');
    expect(classifyUpstreamError({ code: 'ECONNRESET', socket: { bytesWritten: 0 } })).toBe('connect');
    expect(classifyUpstreamError({ code: 'ECONNRESET', socket: { bytesWritten: 10 } })).toBe('reset');
    expect(classifyUpstreamError({ code: 'UND_ERR_HEADERS_TIMEOUT' })).toBe('timeout');
    expect(classifyUpstreamError({ name: 'AbortError' })).toBe('aborted');
    expect(classifyUpstreamError({ errors: [{ code: 'ECONNREFUSED' }] })).toBe('connect');
    expect(classifyUpstreamError(new Error('x'))).toBe('protocol');
  });
});
