// nginx as a proxy target of the gateway benchmark: one worker, a keep-alive upstream pool, access
// log to a file (as the gateway's), everything (pid, logs, *_temp) under a temp dir, run in the
// foreground (`-g 'daemon off;'`) as a tracked child.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { track } from '@webtier/testkit';
import { httpStatus, sleep } from '../failover/ChildNode.js';

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
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
${extraServers}}
`;
}

/** Starts nginx in the foreground; resolves once it proxies (GET / → 200). */
export async function startNginx(dir: string, port: number, upstream: string, extraServers = ''): Promise<ChildProcess> {
  if (!NGINX_BINARY) throw new Error('nginx is not installed');
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(dir, port, upstream, extraServers));
  const child = spawn(NGINX_BINARY, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  track(child);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nginx exited (code ${child.exitCode}): ${stderr}`);
    if ((await httpStatus(`http://127.0.0.1:${port}/`, 1000)) === 200) return child;
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`nginx did not answer on ${port} within 10 s: ${stderr}`);
}
