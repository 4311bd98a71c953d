import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A certificate and key generated for a test, as files and as PEM text. */
export interface TestCert {
  certFile: string;
  keyFile: string;
  cert: string;
  /** SHA-256 fingerprint as Node's getPeerCertificate() shows it. */
  fingerprint256: string;
}

function openssl(args: string[], cwd: string): string {
  try {
    return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new Error('the TLS tests need the openssl binary (Debian package openssl); install it, they do not skip');
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? String(err)}`);
  }
}

/**
 * A self-signed P-256 certificate for `names` (the first is the CN; 127.0.0.1 is added as an IP
 * SAN), made with Debian's openssl at test time. `expired` makes one valid only in January 2020
 * (through `openssl ca`, since OpenSSL 3.0's req/x509 cannot set past dates).
 */
export function makeCert(dir: string, id: string, names: string[], options: { expired?: boolean; days?: number } = {}): TestCert {
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, `${id}.key`);
  const certFile = join(dir, `${id}.crt`);
  const san = `subjectAltName=${[...names.map((n) => `DNS:${n}`), 'IP:127.0.0.1'].join(',')}`;
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile], dir);
  if (!options.expired) {
    openssl(['req', '-x509', '-new', '-key', keyFile, '-out', certFile, '-days', String(options.days ?? 30), '-subj', `/CN=${names[0]}`, '-addext', san], dir);
  } else {
    const ca = join(dir, `${id}-ca`);
    mkdirSync(ca, { recursive: true });
    writeFileSync(join(ca, 'index.txt'), '');
    writeFileSync(join(ca, 'serial'), '01\n');
    writeFileSync(
      join(ca, 'ca.cnf'),
      `[ca]\ndefault_ca=d\n[d]\ndatabase=${ca}/index.txt\nserial=${ca}/serial\nnew_certs_dir=${ca}\ndefault_md=sha256\npolicy=p\ncopy_extensions=copy\n[p]\ncommonName=supplied\n`,
    );
    const csr = join(ca, 'req.csr');
    openssl(['req', '-new', '-key', keyFile, '-out', csr, '-subj', `/CN=${names[0]}`, '-addext', san], dir);
    openssl(['ca', '-batch', '-config', join(ca, 'ca.cnf'), '-selfsign', '-keyfile', keyFile, '-in', csr, '-out', certFile, '-startdate', '20200101000000Z', '-enddate', '20200201000000Z', '-notext'], dir);
  }
  const cert = openssl(['x509', '-in', certFile], dir);
  const fp = openssl(['x509', '-in', certFile, '-noout', '-fingerprint', '-sha256'], dir).trim().split('=')[1]!;
  return { certFile, keyFile, cert, fingerprint256: fp };
}
