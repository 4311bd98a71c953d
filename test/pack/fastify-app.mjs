// fastify + @fastify/session app of a user of the packed @webtier/session-store.
import Fastify from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import { ReplicatedMemcachedStore } from '@webtier/session-store';
import { run } from './steps.mjs';

const store = new ReplicatedMemcachedStore({ servers: process.env.MEMCACHED.split(',') });
const app = Fastify();
await app.register(fastifyCookie);
await app.register(fastifySession, { secret: 'pack-test-secret-at-least-32-chars!!', store, saveUninitialized: false, cookie: { secure: false } });
app.get('/set', async (request) => {
  request.session.set('value', request.query.v);
  return 'ok';
});
app.get('/get', async (request) => ({ value: request.session.get('value') ?? null }));
await app.listen({ host: '127.0.0.1', port: 0 });
await run(`http://127.0.0.1:${app.server.address().port}`, () => app.close(), store);
