import { describe, expect, it } from 'vitest';
import { ConnectionBudget } from '../src/cluster/ConnectionBudget.js';

// Pure logic: the admission decisions of one endpoint lane, as a table of steps.
type Step = ['try', boolean] | ['wait', number, 'granted' | 'timeout'] | ['release'] | ['limit', number];

describe('ConnectionBudget', () => {
  const cases: Array<{ name: string; limit: number; steps: Step[]; active: number; waiting: number }> = [
    { name: 'admits up to the limit, then refuses at once', limit: 2, steps: [['try', true], ['try', true], ['try', false]], active: 2, waiting: 0 },
    { name: 'a release admits the next', limit: 1, steps: [['try', true], ['try', false], ['release'], ['try', true]], active: 1, waiting: 0 },
    { name: 'a waiter times out when nothing is released', limit: 1, steps: [['try', true], ['wait', 30, 'timeout']], active: 1, waiting: 0 },
    { name: 'a waiter takes the slot a release frees', limit: 1, steps: [['try', true], ['wait', 1000, 'granted']], active: 1, waiting: 0 },
    { name: 'queueTimeoutMs 0 answers at once', limit: 1, steps: [['try', true], ['wait', 0, 'timeout']], active: 1, waiting: 0 },
    { name: 'a lowered limit refuses until enough are released', limit: 3, steps: [['try', true], ['try', true], ['limit', 1], ['try', false], ['release'], ['try', false], ['release'], ['try', true]], active: 1, waiting: 0 },
  ];
  it.each(cases)('$name', async ({ limit, steps, active, waiting }) => {
    const b = new ConnectionBudget(limit);
    for (const step of steps) {
      if (step[0] === 'try') expect(b.tryAcquire()).toBe(step[1]);
      else if (step[0] === 'release') b.release();
      else if (step[0] === 'limit') b.limit = step[1];
      else {
        const got = b.acquire(step[1]);
        expect(got).not.toBe(true);
        // 'granted' cases: the holder finishes a moment later.
        if (step[2] === 'granted') setTimeout(() => b.release(), 10);
        expect(await got).toBe(step[2] === 'granted');
      }
    }
    expect({ active: b.active, waiting: b.waiting }).toEqual({ active, waiting });
  });

  it('serves waiters first in, first out, and a timed-out waiter never takes a slot', async () => {
    const b = new ConnectionBudget(1);
    expect(b.tryAcquire()).toBe(true);
    const order: string[] = [];
    const a = (b.acquire(1000) as Promise<boolean>).then((ok) => order.push(`a:${ok}`));
    const gone = (b.acquire(5) as Promise<boolean>).then((ok) => order.push(`gone:${ok}`));
    const c = (b.acquire(1000) as Promise<boolean>).then((ok) => order.push(`c:${ok}`));
    expect(b.tryAcquire(), 'no cutting in front of waiters').toBe(false);
    await gone;
    b.release();
    await a;
    b.release();
    await c;
    expect(order).toEqual(['gone:false', 'a:true', 'c:true']);
    expect({ active: b.active, waiting: b.waiting }).toEqual({ active: 1, waiting: 0 });
  });
});
