// From per-second samples to the numbers of the results table: totals, and the time to recover
// after each fault event.
import type { LoadCounts, LoadResult, SecondSample } from './SessionLoad.js';
import { latencySummary, sumCounts } from './SessionLoad.js';
import type { FaultEvent } from './timeline.js';

/** The run's counts summed over its seconds (sessionsLost: distinct sessions), with its latency. */
export interface Totals extends LoadCounts {
  /** Successful session requests per second. */
  okPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export function totals(load: LoadResult): Totals {
  const counts = sumCounts(load.seconds);
  return {
    ...counts,
    okPerSec: Math.round(counts.ok / load.durationSec),
    // Distinct sessions over the run, not the sum of each second's first sightings.
    sessionsLost: load.sessionsLost,
    ...latencySummary(load.latenciesMs),
  };
}

export interface Recovery {
  event: string;
  atSec: number;
  /** Median successful req/s of the seconds before the event (up to `windowSec` of them, none before the previous event). */
  baselineReqPerSec: number | null;
  /**
   * Seconds from the event to the start of the first second with successful req/s ≥ 90 % of the baseline, no
   * error and no lost session. 0: the second the event happened in was already such a second.
   * null: not recovered before the next event (or the end of the run).
   */
  recoverySec: number | null;
  /** Errors and lost sessions between this event and the next. */
  errors: number;
  sessionsLost: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * Recovery after each measured event. A second is "good" when its successful req/s is ≥ 90 % of the
 * median successful req/s of the (up to windowSec) whole seconds before the event, and it had no error and no lost
 * session. The search stops at the next measured event.
 */
export function recoveries(seconds: readonly SecondSample[], events: readonly FaultEvent[], windowSec = 5): Recovery[] {
  const measured = events.filter((e) => e.measured);
  return measured.map((e, i) => {
    const prev = i === 0 ? 1 : Math.ceil(measured[i - 1]!.atSec);
    const eventSecond = Math.floor(e.atSec);
    const end = i + 1 < measured.length ? Math.floor(measured[i + 1]!.atSec) : seconds.length;
    const before = seconds.slice(Math.max(prev, eventSecond - windowSec), eventSecond).map((s) => s.ok);
    const baseline = before.length ? median(before) : null;
    let recoverySec: number | null = null;
    for (let t = eventSecond; t < end; t++) {
      const s = seconds[t];
      if (!s) break;
      if ((baseline === null || s.ok >= 0.9 * baseline) && s.errors === 0 && s.sessionsLost === 0) {
        recoverySec = Math.max(0, Math.round((t - e.atSec) * 10) / 10);
        break;
      }
    }
    const window = seconds.slice(eventSecond, end);
    return {
      event: e.label,
      atSec: e.atSec,
      baselineReqPerSec: baseline,
      recoverySec,
      errors: window.reduce((s, x) => s + x.errors, 0),
      sessionsLost: window.reduce((s, x) => s + x.sessionsLost, 0),
    };
  });
}

/** What one fault did to one system, from the event to the next one (or the end of the run). */
export interface FaultImpact {
  sessionsLost: number;
  errors: number;
  /** Slowest successful session request in the window, ms. */
  maxMs: number | null;
  /** ActiveSync devices (lab only): failed requests and slowest successful one. */
  deviceErrors?: number;
  deviceMaxMs?: number | null;
}

export function faultImpacts(seconds: readonly SecondSample[], events: readonly FaultEvent[], durationSec: number, devices?: ReadonlyArray<{ t: number; errors: number; maxMs: number | null }>): FaultImpact[] {
  const measured = events.filter((e) => e.measured);
  const starts = events.map((e) => e.atSec);
  return measured.map((e) => {
    const end = starts.find((s) => s > e.atSec) ?? durationSec;
    const inWindow = <T extends { t: number }>(x: T) => x.t + 1 > e.atSec && x.t < end;
    const w = seconds.filter(inWindow);
    const maxOf = (xs: Array<number | null>) => xs.reduce<number | null>((m, x) => (x === null ? m : m === null ? x : Math.max(m, x)), null);
    const impact: FaultImpact = { sessionsLost: w.reduce((n, x) => n + x.sessionsLost, 0), errors: w.reduce((n, x) => n + x.errors, 0), maxMs: maxOf(w.map((x) => x.maxMs)) };
    if (devices) {
      const d = devices.filter(inWindow);
      impact.deviceErrors = d.reduce((n, x) => n + x.errors, 0);
      impact.deviceMaxMs = maxOf(d.map((x) => x.maxMs));
    }
    return impact;
  });
}
