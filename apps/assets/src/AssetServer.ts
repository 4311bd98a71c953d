import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';
import { cacheControlFor, VERSIONED_MAX_AGE_SECONDS } from './cachePolicy.js';
import { AssetsError, AssetsErrorCodes } from './errors.js';

/** The files shipped with this app: skins/ and program/js/, the webmail's CSS and JS. */
export const PUBLIC_DIR = join(dirname(createRequire(import.meta.url).resolve('@webtier/app-assets/package.json')), 'public');

export interface AssetServerOptions {
  /** Directory served at `/`. @default PUBLIC_DIR (apps/assets/public) */
  root?: string;
  /** Node name, sent as `X-Served-By` and in /healthz. @default 'assets' */
  name?: string;
  /** max-age of versioned assets, in seconds. @default 604800 (a week) */
  maxAgeSeconds?: number;
  /** fastify's logger option. @default false */
  logger?: boolean;
}

export const DEFAULT_ASSET_SERVER_OPTIONS = {
  root: PUBLIC_DIR,
  name: 'assets',
  maxAgeSeconds: VERSIONED_MAX_AGE_SECONDS,
  logger: false,
} as const satisfies Required<AssetServerOptions>;

/** A fastify instance serving static files with ETag, Last-Modified, 304s and a cache policy. */
export async function createAssetServer(options: AssetServerOptions = {}): Promise<FastifyInstance> {
  const o = { ...DEFAULT_ASSET_SERVER_OPTIONS, ...options };
  if (!Number.isInteger(o.maxAgeSeconds) || o.maxAgeSeconds < 0) {
    throw new AssetsError(AssetsErrorCodes.BAD_OPTION, `maxAgeSeconds: ${JSON.stringify(o.maxAgeSeconds)} must be an integer >= 0`);
  }
  try {
    if (!statSync(o.root).isDirectory()) throw new Error('not a directory');
  } catch (cause) {
    throw new AssetsError(AssetsErrorCodes.NO_ROOT, `root: "${o.root}" is not a readable directory (${(cause as Error).message})`, { cause });
  }
  const app = Fastify({ logger: o.logger });
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-served-by', o.name);
    const status = reply.statusCode;
    if ((status === 200 || status === 304) && request.url !== '/healthz') {
      reply.header('cache-control', cacheControlFor(request.url, o.maxAgeSeconds));
    }
    return payload;
  });
  app.get('/healthz', async () => ({ status: 'ok', name: o.name }));
  // @fastify/static answers If-None-Match / If-Modified-Since with 304 itself; we only own Cache-Control.
  await app.register(fastifyStatic, { root: o.root, prefix: '/', etag: true, lastModified: true, cacheControl: false, index: false, dotfiles: 'deny' });
  return app;
}
