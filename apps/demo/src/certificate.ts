import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DemoError, DemoErrorCodes } from './errors.js';

/** The demo's self-signed certificate, as files. */
export interface DemoCertificate {
  /** PEM certificate: what a user imports to trust the demo (or passes to `curl --cacert`). */
  certFile: string;
  /** PEM private key (mode 0600, in the run directory; removed with it). */
  keyFile: string;
  /** The names it is valid for. */
  names: readonly string[];
  /** base64 SHA-256 of the public key (SPKI): what Chromium's --ignore-certificate-errors-spki-list takes. */
  spkiSha256: string;
  /** When it expires. */
  validTo: Date;
}

const NAMES = ['localhost', '127.0.0.1', '::1'] as const;

/** The openssl binary: WEBTIER_OPENSSL_BIN, else `openssl` on the PATH. */
function opensslBin(): string {
  return process.env['WEBTIER_OPENSSL_BIN'] || 'openssl';
}

function openssl(args: string[], cwd: string): void {
  const bin = opensslBin();
  try {
    execFileSync(bin, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
  } catch (cause) {
    const e = cause as { code?: string; stderr?: Buffer };
    if (e.code === 'ENOENT') {
      throw new DemoError(
        DemoErrorCodes.NO_OPENSSL,
        `${bin} is not installed: the demo serves HTTPS with a self-signed certificate it makes with openssl at start. ` +
          'Install it: on Debian/Ubuntu `sudo apt-get install -y openssl` (the Debian package `openssl`), on Fedora `sudo dnf install openssl`; or set WEBTIER_OPENSSL_BIN to the binary.',
        { cause },
      );
    }
    throw new DemoError(DemoErrorCodes.START_FAILED, `making the demo's certificate failed: ${bin} ${args.join(' ')}: ${e.stderr?.toString().trim() || (cause as Error).message}`, { cause });
  }
}

/**
 * Makes a fresh self-signed P-256 certificate for localhost, 127.0.0.1 and ::1 in `dir` with the
 * openssl binary (Debian's `openssl`), valid 30 days. A new key each start: the key lives only as
 * long as the run directory, so a demo never leaves a trusted-looking key behind. CA:FALSE with
 * serverAuth, so that a browser or `curl --cacert` that is told to trust it accepts it as a server
 * certificate and nothing else.
 */
export function makeDemoCertificate(dir: string): DemoCertificate {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyFile = join(dir, 'demo-localhost.key');
  const certFile = join(dir, 'demo-localhost.crt');
  const san = `subjectAltName=${NAMES.map((n) => (n === 'localhost' ? `DNS:${n}` : `IP:${n}`)).join(',')}`;
  // genpkey writes the key 0600 (umask aside, it is in a 0700 directory).
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile], dir);
  openssl(
    ['req', '-x509', '-new', '-key', keyFile, '-out', certFile, '-days', '30', '-subj', '/O=webtier demo (self-signed)/CN=localhost',
      '-addext', san, '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature', '-addext', 'extendedKeyUsage=serverAuth'],
    dir,
  );
  const x509 = new X509Certificate(readFileSync(certFile));
  const spki = x509.publicKey.export({ type: 'spki', format: 'der' });
  return { certFile, keyFile, names: NAMES, spkiSha256: createHash('sha256').update(spki).digest('base64'), validTo: new Date(x509.validTo) };
}
