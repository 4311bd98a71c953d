// Throughput measurement shared by the benchmarks: contenders run in interleaved rounds (A B A B
// ...) so that a noisy neighbour on a shared machine slows both sides alike, and the median round
// is reported rather than the best or the mean.

/** One contender: `run()` performs `ops` operations and returns something derived from them. */
export interface Contender {
  name: string;
  /** Operations one call of `run` performs. */
  ops: number;
  /** Does the work; its return value is kept so the JIT cannot drop the work as dead code. */
  run: () => unknown;
}

export interface MeasureOptions {
  /**
   * Untimed rounds first, so every contender is compiled by the optimizing JIT.
   * @default 1
   */
  warmupRounds?: number;
  /**
   * Timed rounds per contender; the median is reported.
   * @default 5
   */
  rounds?: number;
}

export interface Measurement {
  name: string;
  /** Median of the rounds' operations per second. */
  opsPerSec: number;
  /** Every timed round's operations per second, in order. */
  rounds: number[];
  /** (max - min) / median of the rounds: above ~0.2 the machine was busy. */
  spread: number;
}

let sink: unknown;

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Measures the contenders round by round, interleaved; returns them in the order given. */
export function measure(contenders: readonly Contender[], options: MeasureOptions = {}): Measurement[] {
  const { warmupRounds = 1, rounds = 5 } = options;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`measure: rounds must be an integer >= 1, got ${rounds}`);
  if (!Number.isInteger(warmupRounds) || warmupRounds < 0) throw new Error(`measure: warmupRounds must be an integer >= 0, got ${warmupRounds}`);
  for (let r = 0; r < warmupRounds; r++) for (const c of contenders) sink = c.run();
  const results = contenders.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    contenders.forEach((c, i) => {
      const start = process.hrtime.bigint();
      sink = c.run();
      const ns = Number(process.hrtime.bigint() - start);
      results[i]!.push((c.ops * 1e9) / ns);
    });
  }
  void sink;
  return contenders.map((c, i) => {
    const list = results[i]!;
    const mid = median(list);
    return { name: c.name, opsPerSec: mid, rounds: list, spread: (Math.max(...list) - Math.min(...list)) / mid };
  });
}
