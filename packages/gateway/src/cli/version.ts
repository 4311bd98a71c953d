import { createRequire } from 'node:module';

/** The installed @webtier/gateway version (dist/esm/cli/ → the package's package.json). */
export function gatewayVersion(): string {
  return (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;
}
