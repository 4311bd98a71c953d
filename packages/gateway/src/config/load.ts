import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { GatewayConfigError, GatewayError, GatewayErrorCodes, type ConfigProblem } from '../errors.js';
import { GatewayConfigSchema, RESERVED_NAMES, type GatewayConfig, type GatewayConfigInput } from './schema.js';

/** A config file larger than this is refused (a real one is a few KiB; `/dev/zero` must not eat memory). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Whether an admin `host` is a loopback address (reads may stay open there, and no token is required). */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** `['clusters', 'webmail', 'endpoints', 1, 'weight']` → `clusters.webmail.endpoints[1].weight` */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

function issueProblems(issue: z.core.$ZodIssue): ConfigProblem[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: 'unknown key (check the spelling; unknown keys are errors)' }));
  }
  if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input: expected') && issue.message.endsWith('received undefined')) {
    return [{ path: formatPath(issue.path), message: `required (${issue.message.replace('Invalid input: ', '').replace(', received undefined', '')})` }];
  }
  return [{ path: formatPath(issue.path), message: issue.message }];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks that span fields (route → cluster, ring_hash → hashOn, duplicate urls). Defensive: runs on raw input. */
function crossProblems(input: unknown): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (!isObject(input)) return problems;
  const clusters = isObject(input['clusters']) ? input['clusters'] : undefined;
  if (clusters && Object.keys(clusters).length === 0) problems.push({ path: 'clusters', message: 'expected at least one cluster' });
  // JSON.parse and YAML make `__proto__` an own key; zod's record skips it (and would assign it
  // to the output's prototype), so reserved names are checked here on the raw input.
  for (const name of Object.keys(clusters ?? {})) {
    if (RESERVED_NAMES.has(name)) problems.push({ path: `clusters.${name}`, message: 'the names __proto__, constructor and prototype are reserved; choose another cluster name' });
  }
  if (Array.isArray(input['routes']) && clusters) {
    input['routes'].forEach((route: unknown, i) => {
      if (!isObject(route) || typeof route['cluster'] !== 'string') return;
      if (!Object.hasOwn(clusters, route['cluster'])) {
        problems.push({ path: `routes[${i}].cluster`, message: `no cluster named "${route['cluster']}" (clusters: ${Object.keys(clusters).join(', ') || 'none'})` });
      }
    });
  }
  if (Array.isArray(input['listeners'])) {
    input['listeners'].forEach((l: unknown, i) => {
      if (!isObject(l)) return;
      if (l['tls'] === undefined) {
        if (l['http2'] === true) problems.push({ path: `listeners[${i}].http2`, message: 'HTTP/2 is offered through TLS ALPN: add tls { certFile, keyFile }' });
        if (l['hsts'] !== undefined) problems.push({ path: `listeners[${i}].hsts`, message: 'HSTS is only sent on HTTPS: add tls { certFile, keyFile }' });
      } else if (l['redirectToHttps'] === true) {
        problems.push({ path: `listeners[${i}].redirectToHttps`, message: 'a TLS listener serves HTTPS itself; redirect from a plain HTTP listener' });
      }
    });
  }
  const admin = input['admin'];
  if (isObject(admin) && typeof admin['host'] === 'string' && !isLoopbackHost(admin['host']) && admin['tokenFile'] === undefined) {
    problems.push({ path: 'admin.tokenFile', message: `required when the admin listener is not on loopback (host ${admin['host']}): drain/undrain would be open to the network` });
  }
  for (const [name, cluster] of Object.entries(clusters ?? {})) {
    if (!isObject(cluster)) continue;
    const hashOn = cluster['hashOn'];
    if (cluster['lbPolicy'] === 'ring_hash' && hashOn === undefined) {
      problems.push({ path: `clusters.${name}.hashOn`, message: 'required with lbPolicy ring_hash (e.g. { query: DeviceId }, { header: X-User }, { cookie: roundcube_sessid })' });
    }
    if (isObject(hashOn)) {
      const n = ['query', 'header', 'cookie'].filter((k) => hashOn[k] !== undefined).length;
      if (n !== 1) problems.push({ path: `clusters.${name}.hashOn`, message: 'expected exactly one of query, header, cookie' });
    }
    if (Array.isArray(cluster['endpoints'])) {
      const seen = new Map<string, number>();
      cluster['endpoints'].forEach((ep: unknown, i) => {
        if (!isObject(ep) || typeof ep['url'] !== 'string') return;
        let key = ep['url'];
        try {
          key = new URL(ep['url']).origin;
        } catch {
          return;
        }
        const first = seen.get(key);
        if (first !== undefined) problems.push({ path: `clusters.${name}.endpoints[${i}].url`, message: `duplicate of endpoints[${first}] (${key})` });
        else seen.set(key, i);
      });
    }
    const hc = cluster['healthCheck'];
    if (isObject(hc) && typeof hc['timeoutMs'] === 'number' && typeof hc['intervalMs'] === 'number' && hc['timeoutMs'] > hc['intervalMs']) {
      problems.push({ path: `clusters.${name}.healthCheck.timeoutMs`, message: `must not exceed intervalMs (${hc['intervalMs']})` });
    }
  }
  return problems;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Validates a config object (parsed YAML/JSON) against the schema, fills in the defaults and
 * returns it deeply frozen. Throws GatewayConfigError (code GW_ERR_BAD_CONFIG) listing every
 * problem with its path.
 */
export function parseConfig(input: unknown, source?: string): GatewayConfig {
  const result = GatewayConfigSchema.safeParse(input);
  const problems = [...(result.success ? [] : result.error.issues.flatMap(issueProblems)), ...crossProblems(input)];
  if (!result.success || problems.length > 0) throw new GatewayConfigError(problems, source);
  return deepFreeze(result.data);
}

/**
 * Checks a config object without throwing: every problem with its path
 * (`clusters.webmail.endpoints[1].weight: expected a positive integer`), or `[]` when it is valid.
 */
export function validateConfig(input: unknown): ConfigProblem[] {
  try {
    parseConfig(input);
    return [];
  } catch (err) {
    if ((err as { code?: string }).code === GatewayErrorCodes.BAD_CONFIG) return [...(err as GatewayConfigError).problems];
    throw err;
  }
}

/**
 * Reads a small regular file: a FIFO, a device (`/dev/zero`) or a file of `maxBytes` or more is
 * refused before a byte is read (opened non-blocking, so a FIFO without a writer cannot hang us).
 */
export function readRegularFile(file: string, maxBytes: number, what: string): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new GatewayError(GatewayErrorCodes.CONFIG_READ, `cannot read the ${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new GatewayError(GatewayErrorCodes.CONFIG_READ, `the ${what} ${file} is not a regular file (a FIFO, device or directory); point to a file`);
    if (st.size >= maxBytes) throw new GatewayError(GatewayErrorCodes.CONFIG_READ, `the ${what} ${file} is ${st.size} bytes; the limit is ${maxBytes - 1} bytes`);
    return readFileSync(fd, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === GatewayErrorCodes.CONFIG_READ) throw err;
    throw new GatewayError(GatewayErrorCodes.CONFIG_READ, `cannot read the ${what} ${file}: ${(err as Error).message}`, { cause: err });
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a YAML (.yaml/.yml, also the fallback) or JSON (.json) file and validates it with
 * parseConfig. The file must be a regular file under 1 MiB; a key repeated in one object is an
 * error in JSON as in YAML (JSON.parse would silently keep the last one).
 */
export function loadConfig(file: string): GatewayConfig {
  const text = readRegularFile(file, MAX_CONFIG_BYTES, 'gateway config');
  let data: unknown;
  try {
    if (extname(file).toLowerCase() === '.json') {
      JSON.parse(text);
      // JSON is YAML 1.2: the YAML parser reports the duplicate keys JSON.parse drops.
      data = parseYaml(text, { uniqueKeys: true, version: '1.2', schema: 'json' });
    } else data = parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    throw new GatewayError(GatewayErrorCodes.CONFIG_READ, `cannot parse the gateway config ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseConfig(data, file);
}

/** A config object (validated here unless already parsed and frozen) or the path of a YAML/JSON file. */
export type GatewayConfigSource = GatewayConfig | GatewayConfigInput | string;

/** The one normalisation of a config source: a path is loaded, an object validated, a frozen (parsed) config passed through. */
export function toConfig(config: GatewayConfigSource): GatewayConfig {
  if (typeof config === 'string') return loadConfig(config);
  return Object.isFrozen(config) ? (config as GatewayConfig) : parseConfig(config);
}
