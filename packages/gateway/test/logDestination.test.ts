// The access log's batch (BatchingStream): lines gathered into one string, written when full or on
// flush, pino's own lines after the batch before them. Through pino's real SonicBoom into a real
// file (byte-exact round trip, order), and with a recording destination for the batch sizes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchingStream } from '../src/logDestination.js';

const dir = mkdtempSync(join(tmpdir(), 'webtier-logdest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Boom = ConstructorParameters<typeof BatchingStream>[0];

/** A BatchingStream over pino's SonicBoom writing synchronously to a new file. */
function toFile(name: string, maxChars: number): { stream: BatchingStream; read: () => string } {
  const file = join(dir, name);
  const boom = pino.destination({ dest: file, sync: true, mkdir: true }) as unknown as Boom;
  return { stream: new BatchingStream(boom, maxChars), read: () => readFileSync(file, 'utf8') };
}

/** A destination that records each write (pure batching logic: sizes and order). */
function recording(maxChars: number): { stream: BatchingStream; writes: string[] } {
  const writes: string[] = [];
  const boom = { write: (s: string) => (writes.push(s), true), flush: () => undefined } as unknown as Boom;
  return { stream: new BatchingStream(boom, maxChars), writes };
}

describe('BatchingStream', () => {
  it('keeps every line byte for byte and in order, pino lines after the access lines before them', () => {
    const { stream, read } = toFile('order.log', 4096);
    const lines = ['{"a":1}\n', '{"url":"/caf\u00e9/\u{1f600}?q=\u2028"}\n', '{"pino":"warn"}\n', '{"d":"\u00fc\u00f1\u00ee"}\n'];
    stream.append(lines[0]!);
    stream.append(lines[1]!);
    stream.write(lines[2]!);
    stream.append(lines[3]!);
    expect(read()).toBe(lines[0]! + lines[1]! + lines[2]!);
    stream.flush();
    expect(read()).toBe(lines.join(''));
  });

  it.each([
    { what: 'ASCII lines: a batch is never longer than its size', line: `{"url":"/${'x'.repeat(90)}"}\n`, maxChars: 1000, count: 50 },
    { what: 'lines of 3-byte characters: a batch is never longer than its size (UTF-16 units; at most 3 bytes each)', line: `{"url":"/${'\u20ac'.repeat(60)}"}\n`, maxChars: 1000, count: 50 },
  ])('$what', ({ line, maxChars, count }) => {
    const { stream, writes } = recording(maxChars);
    for (let i = 0; i < count; i++) stream.append(line);
    stream.flush();
    expect(writes.join('')).toBe(line.repeat(count));
    for (const w of writes) {
      expect(w.length).toBeLessThanOrEqual(maxChars);
      expect(Buffer.byteLength(w)).toBeLessThanOrEqual(maxChars * 3);
      // Whole lines only.
      expect(w.endsWith('\n')).toBe(true);
    }
    expect(writes.length).toBeGreaterThan(1);
  });

  it('a line longer than a whole batch goes out on its own, after the batch before it', () => {
    const { stream, writes } = recording(256);
    const long = `{"url":"/${'y'.repeat(400)}"}\n`;
    stream.append('{"n":1}\n');
    stream.append(long);
    stream.append('{"n":2}\n');
    stream.flush();
    expect(writes).toEqual(['{"n":1}\n', long, '{"n":2}\n']);
  });

  it('flush with nothing batched writes nothing', () => {
    const { stream, writes } = recording(256);
    stream.flush();
    expect(writes).toEqual([]);
  });
});
