import { describe, expect, it } from 'vitest';
import { parseHostPort, RingErrorCodes } from '../src/index.js';

describe('parseHostPort: the one host:port parser of webtier', () => {
  const ok: Array<[string, { host: string; port: number }]> = [
    ['10.0.0.1:11212', { host: '10.0.0.1', port: 11212 }],
    ['cache-a', { host: 'cache-a', port: 11211 }],
    ['[::1]:11211', { host: '::1', port: 11211 }],
    ['[fe80::1]', { host: 'fe80::1', port: 11211 }],
    ['  host:1  ', { host: 'host', port: 1 }],
  ];
  it.each(ok)('%s', (input, expected) => expect(parseHostPort(input, 'servers[0]')).toEqual(expected));

  const bad: Array<[string, string, RegExp]> = [
    ['::1', RingErrorCodes.BAD_NODE, /^servers\[0\]: "::1" has more than one ":"; write an IPv6 host in brackets, e\.g\. "\[::1\]:11211"/],
    ['fe80::1:11211', RingErrorCodes.BAD_NODE, /e\.g\. "\[fe80::1:11211\]:11211" \(or "\[host\]:port" when the last part is a port\)/],
    ['[::1', RingErrorCodes.BAD_NODE, /unclosed "\["/],
    ['[::1]11211', RingErrorCodes.BAD_NODE, /is not "\[host\]:port"/],
    ['a:11a11', RingErrorCodes.BAD_PORT, /^servers\[0\]: port "11a11" in "a:11a11" is not a number$/],
    ['a:0', RingErrorCodes.BAD_PORT, /port 0 in "a:0" is out of range 1-65535/],
    [':11211', RingErrorCodes.BAD_NODE, /host "" in ":11211" is empty/],
  ];
  it.each(bad)('refuses %s', (input, code, message) => {
    let err: any;
    try {
      parseHostPort(input, 'servers[0]');
    } catch (e) {
      err = e;
    }
    expect(err?.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  it('quoteInput: false leaves the input out of port errors (for callers that name it in `where`)', () => {
    expect(() => parseHostPort('c:11a11', 'servers[2]', { quoteInput: false })).toThrow(/^servers\[2\]: port "11a11" is not a number$/);
  });
});
