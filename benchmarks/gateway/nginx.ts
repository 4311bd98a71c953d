// nginx as a proxy target of the gateway benchmark: one worker, a keep-alive upstream pool, access
// log to a file (as the gateway's), everything (pid, logs, *_temp) under a temp dir, run in the
// foreground (`daemon off;`) as testkit's SupervisedProcess (tracked, reaped with the benchmark).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpReady, SupervisedProcess } from '@webtier/testkit';

export const NGINX_BINARY = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'].find((p) => existsSync(p));

/**
 * The start every benchmark nginx config shares: one worker in the foreground (run as root's own user,
 * since "nobody" cannot use the temp dir), pid, logs and *_temp files under `dir`, and the opening of
 * the `http` block up to `keepalive_requests`.
 */
export function nginxPrologue(dir: string, o: { workerConnections: number; workerRlimitNofile?: number }): string {
  const tmp = (name: string) => join(dir, name);
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  const rlimit = o.workerRlimitNofile === undefined ? '' : `worker_rlimit_nofile ${o.workerRlimitNofile};\n`;
  return `${user}worker_processes 1;
${rlimit}daemon off;
pid ${tmp('nginx.pid')};
error_log ${tmp('error.log')} warn;
events { worker_connections ${o.workerConnections}; }
http {
  access_log ${tmp('access.log')};
  client_body_temp_path ${tmp('client_body_temp')};
  proxy_temp_path ${tmp('proxy_temp')};
  fastcgi_temp_path ${tmp('fastcgi_temp')};
  uwsgi_temp_path ${tmp('uwsgi_temp')};
  scgi_temp_path ${tmp('scgi_temp')};
  keepalive_requests 100000;
`;
}

export function nginxConfig(dir: string, port: number, upstream: string, extraServers = ''): string {
  return `${nginxPrologue(dir, { workerConnections: 1024 })}  upstream backend {
    server ${upstream};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
${PROXY_LOCATION}  }
${extraServers}}
`;
}

/** The `location /` every benchmark nginx server proxies with: keep-alive to the `backend` upstream. */
export const PROXY_LOCATION = `    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
`;

/** Starts nginx in the foreground with the proxy config above; resolves once it proxies (GET / → 200). */
export function startNginx(dir: string, port: number, upstream: string, extraServers = ''): Promise<SupervisedProcess> {
  mkdirSync(dir, { recursive: true });
  return runNginx(dir, nginxConfig(dir, port, upstream, extraServers), `http://127.0.0.1:${port}/`);
}

/**
 * Runs nginx in the foreground with `config` (written to dir/nginx.conf); resolves once `readyUrl`
 * answers 200. `stop()` sends `stopSignal` (SIGQUIT: graceful; SIGTERM: fast, for held long polls),
 * SIGKILL after 3 s.
 */
export async function runNginx(dir: string, config: string, readyUrl: string, stopSignal: NodeJS.Signals = 'SIGQUIT'): Promise<SupervisedProcess> {
  if (!NGINX_BINARY) throw new Error('nginx is not installed (Debian package nginx)');
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, config);
  const nginx = new SupervisedProcess({
    name: 'nginx',
    command: NGINX_BINARY,
    args: ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')],
    ready: httpReady(readyUrl),
    readyTimeoutMs: 10_000,
    stopSignal,
    stopTimeoutMs: 3000,
  });
  return nginx.start();
}
