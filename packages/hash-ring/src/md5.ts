// MD5 (RFC 1321) of a string's UTF-8 bytes, in plain JavaScript over preallocated buffers.
// Why not node:crypto: a key lookup hashes one short string, and the native call plus the Buffer
// it returns cost more than the hash itself. Measured on Node 20 over 26-byte session ids:
// crypto.createHash ~0.7 M/s, crypto.hash ~1.2 M/s, this ~4 M/s. Only used for keys; the ring's
// points (built once) use node:crypto.

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

let bytes = new Uint8Array(256);
let words = new Int32Array(bytes.buffer);
const encoder = new TextEncoder();

function grow(size: number): void {
  const capacity = (size + 63) & ~63;
  bytes = new Uint8Array(capacity);
  words = new Int32Array(bytes.buffer);
}

/** Writes the UTF-8 bytes of `key` to `bytes` (growing it) and returns their count. */
function encode(key: string): number {
  const length = key.length;
  // A key of n UTF-16 units is at most 3n UTF-8 bytes; +72 leaves room for MD5 padding.
  if (length * 3 + 72 > bytes.length) grow(length * 3 + 72);
  const b = bytes;
  for (let i = 0; i < length; i++) {
    const c = key.charCodeAt(i);
    if (c > 0x7f) return i + encoder.encodeInto(key.slice(i), b.subarray(i)).written;
    b[i] = c;
  }
  return length;
}

function ff(a: number, b: number, c: number, d: number, x: number, s: number, t: number): number {
  const n = (a + ((b & c) | (~b & d)) + x + t) | 0;
  return (((n << s) | (n >>> (32 - s))) + b) | 0;
}
function gg(a: number, b: number, c: number, d: number, x: number, s: number, t: number): number {
  const n = (a + ((b & d) | (c & ~d)) + x + t) | 0;
  return (((n << s) | (n >>> (32 - s))) + b) | 0;
}
function hh(a: number, b: number, c: number, d: number, x: number, s: number, t: number): number {
  const n = (a + (b ^ c ^ d) + x + t) | 0;
  return (((n << s) | (n >>> (32 - s))) + b) | 0;
}
function ii(a: number, b: number, c: number, d: number, x: number, s: number, t: number): number {
  const n = (a + (c ^ (b | ~d)) + x + t) | 0;
  return (((n << s) | (n >>> (32 - s))) + b) | 0;
}

/**
 * The first 32 bits of md5(UTF-8 of `key`) as the little-endian uint32 of the digest's first
 * four bytes: libmemcached's MD5 key hash (hashkit `hashkit_md5`).
 */
export function md5FirstWordLE(key: string): number {
  const n = encode(key);
  const b = bytes;
  const w = words;
  const blocks = ((n + 8) >>> 6) + 1;
  const end = blocks << 6;
  b[n] = 0x80;
  b.fill(0, n + 1, end - 8);
  w[(end >>> 2) - 2] = n << 3;
  w[(end >>> 2) - 1] = Math.floor(n / 0x20000000);

  let a0 = 0x67452301;
  let b0 = 0xefcdab89 | 0;
  let c0 = 0x98badcfe | 0;
  let d0 = 0x10325476;
  for (let o = 0; o < blocks << 4; o += 16) {
    const x0 = w[o]!, x1 = w[o + 1]!, x2 = w[o + 2]!, x3 = w[o + 3]!;
    const x4 = w[o + 4]!, x5 = w[o + 5]!, x6 = w[o + 6]!, x7 = w[o + 7]!;
    const x8 = w[o + 8]!, x9 = w[o + 9]!, x10 = w[o + 10]!, x11 = w[o + 11]!;
    const x12 = w[o + 12]!, x13 = w[o + 13]!, x14 = w[o + 14]!, x15 = w[o + 15]!;
    let a = a0, bb = b0, c = c0, d = d0;

    a = ff(a, bb, c, d, x0, 7, -680876936); d = ff(d, a, bb, c, x1, 12, -389564586);
    c = ff(c, d, a, bb, x2, 17, 606105819); bb = ff(bb, c, d, a, x3, 22, -1044525330);
    a = ff(a, bb, c, d, x4, 7, -176418897); d = ff(d, a, bb, c, x5, 12, 1200080426);
    c = ff(c, d, a, bb, x6, 17, -1473231341); bb = ff(bb, c, d, a, x7, 22, -45705983);
    a = ff(a, bb, c, d, x8, 7, 1770035416); d = ff(d, a, bb, c, x9, 12, -1958414417);
    c = ff(c, d, a, bb, x10, 17, -42063); bb = ff(bb, c, d, a, x11, 22, -1990404162);
    a = ff(a, bb, c, d, x12, 7, 1804603682); d = ff(d, a, bb, c, x13, 12, -40341101);
    c = ff(c, d, a, bb, x14, 17, -1502002290); bb = ff(bb, c, d, a, x15, 22, 1236535329);

    a = gg(a, bb, c, d, x1, 5, -165796510); d = gg(d, a, bb, c, x6, 9, -1069501632);
    c = gg(c, d, a, bb, x11, 14, 643717713); bb = gg(bb, c, d, a, x0, 20, -373897302);
    a = gg(a, bb, c, d, x5, 5, -701558691); d = gg(d, a, bb, c, x10, 9, 38016083);
    c = gg(c, d, a, bb, x15, 14, -660478335); bb = gg(bb, c, d, a, x4, 20, -405537848);
    a = gg(a, bb, c, d, x9, 5, 568446438); d = gg(d, a, bb, c, x14, 9, -1019803690);
    c = gg(c, d, a, bb, x3, 14, -187363961); bb = gg(bb, c, d, a, x8, 20, 1163531501);
    a = gg(a, bb, c, d, x13, 5, -1444681467); d = gg(d, a, bb, c, x2, 9, -51403784);
    c = gg(c, d, a, bb, x7, 14, 1735328473); bb = gg(bb, c, d, a, x12, 20, -1926607734);

    a = hh(a, bb, c, d, x5, 4, -378558); d = hh(d, a, bb, c, x8, 11, -2022574463);
    c = hh(c, d, a, bb, x11, 16, 1839030562); bb = hh(bb, c, d, a, x14, 23, -35309556);
    a = hh(a, bb, c, d, x1, 4, -1530992060); d = hh(d, a, bb, c, x4, 11, 1272893353);
    c = hh(c, d, a, bb, x7, 16, -155497632); bb = hh(bb, c, d, a, x10, 23, -1094730640);
    a = hh(a, bb, c, d, x13, 4, 681279174); d = hh(d, a, bb, c, x0, 11, -358537222);
    c = hh(c, d, a, bb, x3, 16, -722521979); bb = hh(bb, c, d, a, x6, 23, 76029189);
    a = hh(a, bb, c, d, x9, 4, -640364487); d = hh(d, a, bb, c, x12, 11, -421815835);
    c = hh(c, d, a, bb, x15, 16, 530742520); bb = hh(bb, c, d, a, x2, 23, -995338651);

    a = ii(a, bb, c, d, x0, 6, -198630844); d = ii(d, a, bb, c, x7, 10, 1126891415);
    c = ii(c, d, a, bb, x14, 15, -1416354905); bb = ii(bb, c, d, a, x5, 21, -57434055);
    a = ii(a, bb, c, d, x12, 6, 1700485571); d = ii(d, a, bb, c, x3, 10, -1894986606);
    c = ii(c, d, a, bb, x10, 15, -1051523); bb = ii(bb, c, d, a, x1, 21, -2054922799);
    a = ii(a, bb, c, d, x8, 6, 1873313359); d = ii(d, a, bb, c, x15, 10, -30611744);
    c = ii(c, d, a, bb, x6, 15, -1560198380); bb = ii(bb, c, d, a, x13, 21, 1309151649);
    a = ii(a, bb, c, d, x4, 6, -145523070); d = ii(d, a, bb, c, x11, 10, -1120210379);
    c = ii(c, d, a, bb, x2, 15, 718787259); bb = ii(bb, c, d, a, x9, 21, -343485551);

    a0 = (a0 + a) | 0;
    b0 = (b0 + bb) | 0;
    c0 = (c0 + c) | 0;
    d0 = (d0 + d) | 0;
  }
  return a0 >>> 0;
}

/**
 * Whether {@link md5FirstWordLE} can run here: it reads the message words through an Int32Array,
 * which is only right on a little-endian machine (every platform Node ships for but s390x/ppc64be).
 */
export const JS_MD5_USABLE = LITTLE_ENDIAN;
