import type { ValueCodec } from './ValueCodec.js';
import { CorruptValueError } from './Versioned.js';

/** Result of `store.keyUsage()`: how many stored copies each encryption key seals. */
export interface KeyUsage {
  /** Copies (every replica counted) per key id; a key listed in `encryption.keys` and unused shows 0. */
  readonly byKey: Readonly<Record<string, number>>;
  /** Copies that are not sealed (encryption off, or written before it was turned on). */
  readonly plain: number;
  /** Copies that do not even have a readable header. */
  readonly corrupt: number;
  /** Copies examined over all live nodes. */
  readonly copies: number;
}

export interface KeyUsageDeps {
  /** Live nodes, scanned one after the other so that a scan never loads the whole cluster at once. */
  readonly nodes: readonly string[];
  /** Ids of `encryption.keys` (listed with 0 when unused). */
  readonly keyIds: readonly string[];
  /** This store's keys on one node. */
  listKeys(node: string): Promise<string[]>;
  /** The raw value of one key on one node, null when absent or unreadable. */
  get(node: string, key: string): Promise<Buffer | null>;
  readonly codec: ValueCodec;
}

const CONCURRENCY = 32;

/**
 * Counts every stored copy by the key that seals it (`lru_crawler metadump`, then a `get` per copy,
 * header only: nothing is decrypted). Rotation is over when the old key counts 0.
 */
export async function scanKeyUsage(d: KeyUsageDeps): Promise<KeyUsage> {
  const byKey: Record<string, number> = {};
  for (const id of d.keyIds) byKey[id] = 0;
  let plain = 0;
  let corrupt = 0;
  let copies = 0;
  for (const node of d.nodes) {
    const keys = await d.listKeys(node);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, keys.length) }, async () => {
        while (next < keys.length) {
          const value = await d.get(node, keys[next++]!);
          if (!value) continue;
          copies++;
          try {
            const keyId = d.codec.header(value).keyId;
            if (keyId === undefined) plain++;
            else byKey[keyId] = (byKey[keyId] ?? 0) + 1;
          } catch (err) {
            if (!(err instanceof CorruptValueError)) throw err;
            if (err.code === 'plain') plain++;
            else corrupt++;
          }
        }
      }),
    );
  }
  return { byKey, plain, corrupt, copies };
}
