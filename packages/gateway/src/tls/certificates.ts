import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { ListenerConfig } from '../config/schema.js';
import { GatewayError, GatewayErrorCodes } from '../errors.js';

/** What `--check` prints about one certificate/key pair. */
export interface TlsFileReport {
  certFile: string;
  keyFile: string;
  subject: string;
  /** DNS names of the certificate (subjectAltName). */
  names: string[];
  notAfter: Date;
  daysLeft: number;
}

/** One certificate/key pair, read and checked. */
export interface CertificatePair {
  cert: string;
  key: string;
  report: TlsFileReport;
}

function read(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new GatewayError(GatewayErrorCodes.TLS, `cannot read the ${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Reads and checks a certificate chain and its key: readable, PEM, the key matches the first
 * certificate, the certificate is valid now. Throws GW_ERR_TLS naming the file and what to do.
 */
export function readCertificatePair(certFile: string, keyFile: string, now = Date.now()): CertificatePair {
  const cert = read(certFile, 'certificate');
  const key = read(keyFile, 'private key');
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) throw new GatewayError(GatewayErrorCodes.TLS, `${certFile} is not a PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new GatewayError(GatewayErrorCodes.TLS, `${certFile}: cannot parse the certificate: ${(err as Error).message}`, { cause: err });
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new GatewayError(GatewayErrorCodes.TLS, `${keyFile}: cannot parse the private key (expected an unencrypted PEM key): ${(err as Error).message}`, { cause: err });
  }
  if (!x509.checkPrivateKey(privateKey)) throw new GatewayError(GatewayErrorCodes.TLS, `${keyFile} is not the key of ${certFile} (the pair does not match)`);
  const notAfter = new Date(x509.validTo);
  const notBefore = new Date(x509.validFrom);
  if (notAfter.getTime() <= now) throw new GatewayError(GatewayErrorCodes.TLS, `${certFile} expired on ${notAfter.toISOString()}; renew it`);
  if (notBefore.getTime() > now) throw new GatewayError(GatewayErrorCodes.TLS, `${certFile} is not valid before ${notBefore.toISOString()}`);
  const names = (x509.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  return { cert, key, report: { certFile, keyFile, subject: x509.subject.replace(/\n/g, ', '), names, notAfter, daysLeft: Math.floor((notAfter.getTime() - now) / 86_400_000) } };
}

/** Checks every certificate/key pair of a TLS listener (the default and the SNI ones); for `--check`. */
export function checkTlsFiles(tls: NonNullable<ListenerConfig['tls']>): TlsFileReport[] {
  return [readCertificatePair(tls.certFile, tls.keyFile).report, ...tls.sni.map((s) => readCertificatePair(s.certFile, s.keyFile).report)];
}

/** The secure contexts of one TLS listener: the default pair's options and one context per SNI name. */
export interface ListenerCertificates {
  cert: string;
  key: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  /** Lower-case server name (`*.example.org` allowed) → context. */
  sni: Map<string, SecureContext>;
}

/** Reads every pair of a TLS listener; throws GW_ERR_TLS on the first bad one (nothing is applied then). */
export function loadListenerCertificates(tls: NonNullable<ListenerConfig['tls']>): ListenerCertificates {
  const main = readCertificatePair(tls.certFile, tls.keyFile);
  const sni = new Map<string, SecureContext>();
  for (const s of tls.sni) {
    const pair = readCertificatePair(s.certFile, s.keyFile);
    const ctx = createSecureContext({ cert: pair.cert, key: pair.key, minVersion: tls.minVersion });
    for (const name of s.serverNames) sni.set(name.toLowerCase(), ctx);
  }
  return { cert: main.cert, key: main.key, minVersion: tls.minVersion, sni };
}

/** The SNI context for a server name: exact name first, then `*.` one label up. */
export function sniContext(certs: ListenerCertificates, servername: string): SecureContext | undefined {
  const name = servername.toLowerCase();
  const exact = certs.sni.get(name);
  if (exact) return exact;
  const dot = name.indexOf('.');
  return dot > 0 ? certs.sni.get(`*${name.slice(dot)}`) : undefined;
}
