#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { createAssetServer } from './AssetServer.js';
import { AssetsError, AssetsErrorCodes } from './errors.js';

const USAGE = `webtier-assets: serves the webmail's /skins and /program/js files

  --port <n>     port to listen on (env PORT; default 8002)
  --host <addr>  address to listen on (env HOST; default 127.0.0.1)
  --name <name>  node name for X-Served-By and /healthz (env WEBTIER_NODE_NAME; default assets)
  --root <dir>   directory to serve (default: the app's public/)
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string' }, host: { type: 'string' }, name: { type: 'string' }, root: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const portText = values.port ?? process.env['PORT'] ?? '8002';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new AssetsError(AssetsErrorCodes.BAD_OPTION, `--port: "${portText}" is not a port number (0-65535)`);
  const name = values.name ?? process.env['WEBTIER_NODE_NAME'] ?? 'assets';
  const app = await createAssetServer({ name, ...(values.root ? { root: values.root } : {}) });
  const address = await app.listen({ port, host: values.host ?? process.env['HOST'] ?? '127.0.0.1' });
  process.stdout.write(`${name} listening on ${address}\n`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void app.close().then(() => process.exit(0)));
  }
}

main().catch((err: Error & { code?: string }) => {
  process.stderr.write(`webtier-assets: ${err.code ? `[${err.code}] ` : ''}${err.message}\n`);
  process.exit(1);
});
