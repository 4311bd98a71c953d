// The baseline proxy: fastify + @fastify/http-proxy as its README shows it, no retries, no health
// checks, no logger. Several upstreams are balanced by undici's BalancedPool, the pool
// @fastify/reply-from itself builds for an array `base` (round robin; a dead upstream is never
// removed). @fastify/http-proxy 11.6 rejects an array `upstream` (its destination check parses it
// as one URL), so the pool is handed to reply-from through the `undici` option instead.
// Plain JavaScript, no loader: the baseline runs exactly as a user would run it.
// --activesync registers a second proxy for /Microsoft-Server-ActiveSync (the multi-host lab's devices),
// as a user of @fastify/http-proxy would: one registration per prefix.
//   node benchmarks/failover/vanillaProxy.mjs --port 8080 --upstream http://127.0.0.1:8001,http://127.0.0.1:8002 [--activesync http://...]
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import proxy from '@fastify/http-proxy';
import { BalancedPool } from 'undici';

const { values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string' }, upstream: { type: 'string' }, activesync: { type: 'string' } } });
const upstreams = (values.upstream ?? '').split(',').filter(Boolean);
if (upstreams.length === 0 || values.port === undefined) {
  process.stderr.write('vanillaProxy: give --port <n> and --upstream http://host:port[,http://host:port...]\n');
  process.exit(2);
}

const app = Fastify({ logger: false });
const activesync = (values.activesync ?? '').split(',').filter(Boolean);
if (activesync.length > 0) {
  await app.register(proxy, {
    upstream: activesync[0],
    prefix: '/Microsoft-Server-ActiveSync',
    rewritePrefix: '/Microsoft-Server-ActiveSync',
    ...(activesync.length > 1 ? { undici: new BalancedPool(activesync) } : {}),
  });
}
await app.register(proxy, {
  upstream: upstreams[0],
  ...(upstreams.length > 1 ? { undici: new BalancedPool(upstreams) } : {}),
});
await app.listen({ port: Number(values.port), host: values.host ?? '127.0.0.1' });
process.stdout.write(`vanilla @fastify/http-proxy on ${values.port} → ${upstreams.join(', ')}\n`);
const close = () => void app.close().finally(() => process.exit(0));
process.once('SIGTERM', close);
process.once('SIGINT', close);
