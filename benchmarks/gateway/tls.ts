// The HTTPS rounds of the gateway benchmark (issue 9): the gateway and nginx serve the same
// certificate (made here with Debian's openssl), both proxying to the same upstream. wrk
// measures 50 keep-alive connections and a handshake-heavy run (Connection: close: a TLS handshake
// per request); h2load (Debian nghttp2-client) measures h2 when it is installed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PROXY_LOCATION } from './nginx.js';

export const H2LOAD_BINARY = ['/usr/bin/h2load', '/usr/local/bin/h2load'].find((p) => existsSync(p));

/** A self-signed P-256 certificate for localhost/127.0.0.1 in `dir`. */
export function benchCertificate(dir: string): { certFile: string; keyFile: string } {
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, 'bench.key');
  const certFile = join(dir, 'bench.crt');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`the HTTPS rounds need openssl (Debian package openssl): ${(err as Error).message}`);
  }
  return { certFile, keyFile };
}

/** The nginx server block of the HTTPS target: same certificate, h2 offered through ALPN like the gateway's listener. */
export function nginxTlsServer(port: number, cert: { certFile: string; keyFile: string }): string {
  return `  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${cert.certFile};
    ssl_certificate_key ${cert.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off;
    ssl_session_tickets off;
${PROXY_LOCATION}  }
`;
}

/** One h2load run: requests per second, or undefined when it failed. */
export function h2load(url: string, seconds: number, clients: number, streams: number): { reqPerSec: number; failed: number } | undefined {
  if (!H2LOAD_BINARY) return undefined;
  try {
    const out = execFileSync(H2LOAD_BINARY, ['-D', String(seconds), '-c', String(clients), '-m', String(streams), '-t', '1', url], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: (seconds + 30) * 1000 });
    const rps = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out);
    const failed = /requests: .* (\d+) failed/.exec(out);
    return rps ? { reqPerSec: Math.round(Number(rps[1])), failed: failed ? Number(failed[1]) : 0 } : undefined;
  } catch {
    return undefined;
  }
}
