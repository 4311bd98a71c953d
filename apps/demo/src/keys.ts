import type { NodeInfo } from './ChildApp.js';

/** Keys reserved for commands; node keys skip them. */
const RESERVED = new Set(['s', 'q', 'h']);
const KEY_CHARS = '123456789abcdefgijklmnoprtuvwxyz'.split('').filter((c) => !RESERVED.has(c));

/** One key per node, in topology order: 1-9 then letters (s = status, q = quit, h = help). */
export function nodeKeys(nodes: NodeInfo[]): Map<string, string> {
  return new Map(nodes.map((n, i) => [n.name, KEY_CHARS[i] ?? '']));
}

export function keysHelp(keys: Map<string, string>): string {
  const parts = [...keys].filter(([, k]) => k).map(([name, k]) => `${k} ${name}`);
  return `keys: a node's key kills it, or restarts it when it is down: ${parts.join(' · ')} · s status · h help · q quit`;
}
