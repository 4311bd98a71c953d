import { describe, expect, it } from 'vitest';
import { errorCodes, errorTable } from '../src/index.js';

const table = errorTable('ProbeError', {
  PLAIN: 'PROBE_ERR_PLAIN',
  NOT_FOUND: ['PROBE_ERR_NOT_FOUND', 404],
  UPSTREAM: ['PROBE_ERR_UPSTREAM', 502],
});
class ProbeError extends table.Error {}

describe('errorTable', () => {
  it('gives the codes by name, frozen', () => {
    expect(table.codes).toEqual({ PLAIN: 'PROBE_ERR_PLAIN', NOT_FOUND: 'PROBE_ERR_NOT_FOUND', UPSTREAM: 'PROBE_ERR_UPSTREAM' });
    expect(Object.isFrozen(table.codes)).toBe(true);
  });

  const statuses = [
    { code: table.codes.NOT_FOUND, expected: 404 },
    { code: table.codes.UPSTREAM, expected: 502 },
    { code: table.codes.PLAIN, expected: 500 },
  ];
  for (const c of statuses) {
    it(`statusOf(${c.code}) is ${c.expected}`, () => expect(table.statusOf(c.code)).toBe(c.expected));
  }

  const errors = [
    { name: 'without a cause', options: undefined, hasCause: false },
    { name: 'with a cause', options: { cause: new Error('ECONNREFUSED') }, hasCause: true },
    { name: 'with cause: undefined (not kept)', options: { cause: undefined }, hasCause: false },
  ];
  for (const c of errors) {
    it(`an error ${c.name} carries code, message and name`, () => {
      const err = new ProbeError(table.codes.NOT_FOUND, 'no probe at "/x"', c.options);
      expect(err).toBeInstanceOf(Error);
      expect(err).toBeInstanceOf(ProbeError);
      expect(err.code).toBe('PROBE_ERR_NOT_FOUND');
      expect(err.message).toBe('no probe at "/x"');
      expect(err.name).toBe('ProbeError');
      expect('cause' in err).toBe(c.hasCause);
      if (c.hasCause) expect(err.cause).toBe(c.options?.cause);
      expect(String(err)).toBe('ProbeError: no probe at "/x"');
    });
  }

  it('a subclass adds fields without repeating the constructor', () => {
    class HttpProbeError extends table.Error {
      readonly statusCode = table.statusOf(this.code);
    }
    const err = new HttpProbeError(table.codes.UPSTREAM, 'upstream reset');
    expect(err.statusCode).toBe(502);
    expect(err.code).toBe('PROBE_ERR_UPSTREAM');
  });
});

describe('errorCodes', () => {
  it('names each code prefix_KEY, with literal types', () => {
    const codes = errorCodes('DEMO_ERR', ['BAD_ARGS', 'NOT_RUNNING']);
    expect(codes).toEqual({ BAD_ARGS: 'DEMO_ERR_BAD_ARGS', NOT_RUNNING: 'DEMO_ERR_NOT_RUNNING' });
    const t = errorTable('DemoError', codes);
    const code: 'DEMO_ERR_BAD_ARGS' = t.codes.BAD_ARGS;
    // @ts-expect-error: not a code of the table
    const wrong: 'DEMO_ERR_NOPE' = t.codes.BAD_ARGS;
    expect([code, wrong]).toEqual(['DEMO_ERR_BAD_ARGS', 'DEMO_ERR_BAD_ARGS']);
  });
});
