import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { GatewayConfigError, GatewayError, GatewayErrorCodes, type ConfigProblem } from '../errors.js';
import { GatewayConfigSchema, type GatewayConfig } from './schema.js';

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
  if (Array.isArray(input['routes']) && clusters) {
    input['routes'].forEach((route: unknown, i) => {
      if (!isObject(route) || typeof route['cluster'] !== 'string') return;
      if (!Object.hasOwn(clusters, route['cluster'])) {
        problems.push({ path: `routes[${i}].cluster`, message: `no cluster named "${route['cluster']}" (clusters: ${Object.keys(clusters).join(', ') || 'none'})` });
      }
    });
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

/** Reads a YAML (.yaml/.yml, also the fallback) or JSON (.json) file and validates it with parseConfig. */
export function loadConfig(file: string): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new GatewayError(GatewayErrorCodes.CONFIG_READ, `cannot read the gateway config ${file}: ${(err as Error).message}`, { cause: err });
  }
  let data: unknown;
  try {
    data = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new GatewayError(GatewayErrorCodes.CONFIG_READ, `cannot parse the gateway config ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseConfig(data, file);
}
