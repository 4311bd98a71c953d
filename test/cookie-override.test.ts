// The root package.json `overrides` pin cookie@1.1.1 (engines node >=18) under light-my-request and
// @fastify/cookie, which ask for cookie ^2 (engines node >=22: EBADENGINE on Node 20). Both only
// call stringifySetCookie({ name, value, ... }) and parseCookie, which cookie 1.1 has. If this test
// fails after an upgrade, one of them now uses a cookie 2-only API: drop or move the override.
import { createRequire } from 'node:module';
import Fastify from 'fastify';
import fastifyCookie from '@fastify/cookie';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);

describe('root overrides: cookie@1.1.1 under light-my-request and @fastify/cookie', () => {
  it('the pinned version is what they load', () => {
    for (const parent of ['light-my-request', '@fastify/cookie']) {
      const from = createRequire(require.resolve(`${parent}/package.json`));
      expect((from('cookie/package.json') as { version: string }).version, parent).toBe('1.1.1');
    }
  });

  it('@fastify/cookie signs, sets and parses cookies; light-my-request (fastify.inject) reads them back', async () => {
    const app = Fastify();
    await app.register(fastifyCookie, { secret: 'cookie-override-test-secret' });
    app.get('/set', async (_request, reply) => reply.setCookie('sid', 'a b;c', { signed: true, httpOnly: true, path: '/' }).send('ok'));
    app.get('/echo', async (request) => ({ sid: request.unsignCookie(request.cookies['sid'] ?? '') }));
    const set = await app.inject('/set');
    const cookie = set.cookies.find((c) => c.name === 'sid');
    expect(cookie).toMatchObject({ name: 'sid', httpOnly: true, path: '/' });
    const echo = await app.inject({ url: '/echo', cookies: { sid: cookie!.value } });
    expect(echo.json()).toEqual({ sid: { valid: true, renew: false, value: 'a b;c' } });
    await app.close();
  });
});
