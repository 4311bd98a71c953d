import { describe, expect, it } from 'vitest';
import { HashRing, RingError, RingErrorCodes } from '../src/index.js';
import type { NodeInput } from '../src/index.js';

/** Runs `fn`, expecting a RingError; returns it for further checks. */
function ringError(fn: () => unknown): RingError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RingError);
    return err as RingError;
  }
  throw new Error('expected a RingError, nothing was thrown');
}

const build = (nodes: unknown) => () => new HashRing(nodes as NodeInput[]);

describe('HashRing: bad node lists fail with a stable code and a message naming the value and its index', () => {
  it.each<[string, unknown, string, RegExp]>([
    ['empty list', [], 'RING_ERR_EMPTY', /at least one node/],
    ['not an array (a comma-separated string)', 'a:11211,b:11211', 'RING_ERR_BAD_NODE', /must be an array.*"a:11211,b:11211".*split/],
    ['not an array (undefined)', undefined, 'RING_ERR_BAD_NODE', /must be an array.*undefined/],
    ['duplicate node', ['a:11211', 'b:11211', 'a:11211'], 'RING_ERR_DUPLICATE_NODE', /^nodes\[2\]: "a:11211" is listed twice \(also nodes\[0\]\)/],
    ['duplicate by default port', ['a', 'a:11211'], 'RING_ERR_DUPLICATE_NODE', /^nodes\[1\]: "a:11211".*nodes\[0\]/],
    ['duplicate string and object', ['[::1]:11211', { host: '::1' }], 'RING_ERR_DUPLICATE_NODE', /^nodes\[1\]: "\[::1\]:11211"/],
    ['port not a number', ['b:11211', 'a:11a11'], 'RING_ERR_BAD_PORT', /^nodes\[1\]: port "11a11" in "a:11a11" is not a number/],
    ['empty port', ['a:'], 'RING_ERR_BAD_PORT', /^nodes\[0\]: port "" in "a:" is not a number/],
    ['port 0', ['a:0'], 'RING_ERR_BAD_PORT', /^nodes\[0\]: port 0 in "a:0" is out of range 1-65535/],
    ['port 70000', ['a:11211', 'b:70000'], 'RING_ERR_BAD_PORT', /^nodes\[1\]: port 70000 in "b:70000" is out of range/],
    ['object port 0', [{ host: 'a', port: 0 }], 'RING_ERR_BAD_PORT', /^nodes\[0\]: port 0 is not an integer from 1 to 65535/],
    ['object port 70000', [{ host: 'a', port: 70000 }], 'RING_ERR_BAD_PORT', /^nodes\[0\]: port 70000/],
    ['object port as string', [{ host: 'a', port: '11211' }], 'RING_ERR_BAD_PORT', /^nodes\[0\]: port "11211"/],
    ['object port 1.5', [{ host: 'a', port: 1.5 }], 'RING_ERR_BAD_PORT', /^nodes\[0\]: port 1.5/],
    ['weight 0', [{ host: 'a', weight: 1 }, { host: 'b', weight: 0 }], 'RING_ERR_BAD_WEIGHT', /^nodes\[1\]: weight 0 must be an integer from 1/],
    ['weight -1', [{ host: 'a', weight: -1 }], 'RING_ERR_BAD_WEIGHT', /^nodes\[0\]: weight -1 must be/],
    ['weight 1.5', [{ host: 'a', weight: 1.5 }], 'RING_ERR_BAD_WEIGHT', /^nodes\[0\]: weight 1.5 must be/],
    ['weight NaN', [{ host: 'a', weight: Number.NaN }], 'RING_ERR_BAD_WEIGHT', /^nodes\[0\]: weight NaN/],
    ['weight as string', [{ host: 'a', weight: '2' }], 'RING_ERR_BAD_WEIGHT', /^nodes\[0\]: weight "2"/],
    ['weight above uint32', [{ host: 'a', weight: 2 ** 32 }], 'RING_ERR_BAD_WEIGHT', /^nodes\[0\]: weight 4294967296/],
    ['non-string node (number)', ['a:11211', 11211], 'RING_ERR_BAD_NODE', /^nodes\[1\]: expected "host:port" or \{ host, port, weight \}, got 11211/],
    ['non-string node (null)', [null], 'RING_ERR_BAD_NODE', /^nodes\[0\]: expected .* got null/],
    ['non-string node (array)', [['a', 11211]], 'RING_ERR_BAD_NODE', /^nodes\[0\]: expected .* got \["a",11211\]/],
    ['object without host', [{ port: 11211 }], 'RING_ERR_BAD_NODE', /^nodes\[0\]: host must be a string, got undefined/],
    ['empty host', [':11211'], 'RING_ERR_BAD_NODE', /^nodes\[0\]: host "" in ":11211" is empty/],
    ['blank string', ['   '], 'RING_ERR_BAD_NODE', /^nodes\[0\]: host ""/],
    ['host with whitespace', [{ host: 'a b' }], 'RING_ERR_BAD_NODE', /^nodes\[0\]: host "a b" is empty or contains whitespace/],
    ['unbracketed IPv6', ['::1'], 'RING_ERR_BAD_NODE', /^nodes\[0\]: "::1" has more than one ":"; write an IPv6 host in brackets, e.g. "\[::1\]:11211"/],
    ['unbracketed IPv6 with port', ['fe80::1:11211'], 'RING_ERR_BAD_NODE', /^nodes\[0\]: "fe80::1:11211" has more than one ":"/],
    ['unclosed bracket', ['[::1:11211'], 'RING_ERR_BAD_NODE', /^nodes\[0\]: "\[::1:11211" has an unclosed "\["/],
    ['junk after bracket', ['[::1]11211'], 'RING_ERR_BAD_NODE', /^nodes\[0\]: "\[::1\]11211" is not "\[host\]:port"/],
    ['bad port after bracket', ['[::1]:x'], 'RING_ERR_BAD_PORT', /^nodes\[0\]: port "x" in "\[::1\]:x"/],
    ['bracketed host in an object', [{ host: '[::1]' }], 'RING_ERR_BAD_NODE', /^nodes\[0\]: host "\[::1\]": write an IPv6 host without brackets/],
  ])('%s', (_name, nodes, code, message) => {
    const err = ringError(build(nodes));
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(err.name).toBe('RingError');
  });

  it('every code is listed in RingErrorCodes with the RING_ERR_ prefix', () => {
    for (const [name, code] of Object.entries(RingErrorCodes)) expect(code).toBe(`RING_ERR_${name}`);
  });
});

describe('HashRing: good node forms', () => {
  it('IPv6 in brackets (with and without port) and as an object host; ids parse back', () => {
    const ring = new HashRing(['[::1]:11300', '[fe80::1]', { host: '2001:db8::10', port: 11211, weight: 2 }, ' 10.0.0.1 ']);
    expect(ring.nodes.map((n) => [n.id, n.host, n.port, n.weight])).toEqual([
      ['[::1]:11300', '::1', 11300, 1],
      ['[fe80::1]:11211', 'fe80::1', 11211, 1],
      ['[2001:db8::10]:11211', '2001:db8::10', 11211, 2],
      ['10.0.0.1:11211', '10.0.0.1', 11211, 1],
    ]);
    // Ids parse back to the same nodes, so the same placement.
    const equal = new HashRing(['[::1]:11300', '[fe80::1]', { host: '2001:db8::10' }]);
    const again = new HashRing(equal.nodes.map((n) => n.id));
    for (let i = 0; i < 500; i++) expect(again.get(`k${i}`)).toBe(equal.get(`k${i}`));
    expect(new HashRing(ring.nodes.map((n) => ({ host: n.host, port: n.port, weight: n.weight }))).nodes).toEqual(ring.nodes);
  });

  it('weight 4294967295 (uint32 max) is accepted', () => {
    expect(new HashRing([{ host: 'a', weight: 0xffffffff }, 'b']).nodes[0]!.points).toBeGreaterThan(0);
  });
});

describe('HashRing: bad lookups', () => {
  const ring = new HashRing(['a:11211', 'b:11211', 'c:11211']);

  it.each<[string, unknown]>([
    ['0', 0],
    ['-1', -1],
    ['1.5', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['"2"', '2'],
    ['undefined', undefined],
  ])('nodesFor n = %s fails with RING_ERR_BAD_COUNT naming the value', (shown, n) => {
    const err = ringError(() => ring.nodesFor('k', n as number));
    expect(err.code).toBe('RING_ERR_BAD_COUNT');
    expect(err.message).toBe(`nodesFor: n must be an integer >= 1, got ${shown}`);
  });

  it('nodesFor with a skip that is not a function fails with RING_ERR_BAD_OPTION', () => {
    const err = ringError(() => ring.nodesFor('k', 2, { skip: 'a:11211' as unknown as () => boolean }));
    expect(err.code).toBe('RING_ERR_BAD_OPTION');
    expect(err.message).toMatch(/options\.skip must be a function, got "a:11211"/);
  });

  it.each<[string, unknown]>([
    ['number', 42],
    ['undefined', undefined],
    ['Buffer', Buffer.from('k')],
  ])('a %s key fails with RING_ERR_BAD_KEY in get and nodesFor', (_name, key) => {
    expect(ringError(() => ring.get(key as string)).code).toBe('RING_ERR_BAD_KEY');
    expect(ringError(() => ring.nodesFor(key as string, 2)).code).toBe('RING_ERR_BAD_KEY');
  });
});
