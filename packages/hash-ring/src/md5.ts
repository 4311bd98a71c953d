// MD5 (RFC 1321) of a string's UTF-8 bytes, in plain JavaScript over preallocated buffers.
// Why not node:crypto: a key lookup hashes one short string, and the native call plus the Buffer
// it returns cost more than the hash itself. Measured on Node 20 over 26-byte session ids:
// crypto.createHash ~0.7 M/s, crypto.hash ~1.2 M/s, this ~5.5 M/s. Only used for keys; the
// ring's points (built once) use node:crypto. test/vectors.test.ts checks it against node:crypto.

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

    // The 64 steps written out: V8 does not inline 64 helper calls into one function.
    a = (a + ((bb & c) | (~bb & d)) + x0 - 680876936) | 0; a = (((a << 7) | (a >>> 25)) + bb) | 0;
    d = (d + ((a & bb) | (~a & c)) + x1 - 389564586) | 0; d = (((d << 12) | (d >>> 20)) + a) | 0;
    c = (c + ((d & a) | (~d & bb)) + x2 + 606105819) | 0; c = (((c << 17) | (c >>> 15)) + d) | 0;
    bb = (bb + ((c & d) | (~c & a)) + x3 - 1044525330) | 0; bb = (((bb << 22) | (bb >>> 10)) + c) | 0;
    a = (a + ((bb & c) | (~bb & d)) + x4 - 176418897) | 0; a = (((a << 7) | (a >>> 25)) + bb) | 0;
    d = (d + ((a & bb) | (~a & c)) + x5 + 1200080426) | 0; d = (((d << 12) | (d >>> 20)) + a) | 0;
    c = (c + ((d & a) | (~d & bb)) + x6 - 1473231341) | 0; c = (((c << 17) | (c >>> 15)) + d) | 0;
    bb = (bb + ((c & d) | (~c & a)) + x7 - 45705983) | 0; bb = (((bb << 22) | (bb >>> 10)) + c) | 0;
    a = (a + ((bb & c) | (~bb & d)) + x8 + 1770035416) | 0; a = (((a << 7) | (a >>> 25)) + bb) | 0;
    d = (d + ((a & bb) | (~a & c)) + x9 - 1958414417) | 0; d = (((d << 12) | (d >>> 20)) + a) | 0;
    c = (c + ((d & a) | (~d & bb)) + x10 - 42063) | 0; c = (((c << 17) | (c >>> 15)) + d) | 0;
    bb = (bb + ((c & d) | (~c & a)) + x11 - 1990404162) | 0; bb = (((bb << 22) | (bb >>> 10)) + c) | 0;
    a = (a + ((bb & c) | (~bb & d)) + x12 + 1804603682) | 0; a = (((a << 7) | (a >>> 25)) + bb) | 0;
    d = (d + ((a & bb) | (~a & c)) + x13 - 40341101) | 0; d = (((d << 12) | (d >>> 20)) + a) | 0;
    c = (c + ((d & a) | (~d & bb)) + x14 - 1502002290) | 0; c = (((c << 17) | (c >>> 15)) + d) | 0;
    bb = (bb + ((c & d) | (~c & a)) + x15 + 1236535329) | 0; bb = (((bb << 22) | (bb >>> 10)) + c) | 0;

    a = (a + ((bb & d) | (c & ~d)) + x1 - 165796510) | 0; a = (((a << 5) | (a >>> 27)) + bb) | 0;
    d = (d + ((a & c) | (bb & ~c)) + x6 - 1069501632) | 0; d = (((d << 9) | (d >>> 23)) + a) | 0;
    c = (c + ((d & bb) | (a & ~bb)) + x11 + 643717713) | 0; c = (((c << 14) | (c >>> 18)) + d) | 0;
    bb = (bb + ((c & a) | (d & ~a)) + x0 - 373897302) | 0; bb = (((bb << 20) | (bb >>> 12)) + c) | 0;
    a = (a + ((bb & d) | (c & ~d)) + x5 - 701558691) | 0; a = (((a << 5) | (a >>> 27)) + bb) | 0;
    d = (d + ((a & c) | (bb & ~c)) + x10 + 38016083) | 0; d = (((d << 9) | (d >>> 23)) + a) | 0;
    c = (c + ((d & bb) | (a & ~bb)) + x15 - 660478335) | 0; c = (((c << 14) | (c >>> 18)) + d) | 0;
    bb = (bb + ((c & a) | (d & ~a)) + x4 - 405537848) | 0; bb = (((bb << 20) | (bb >>> 12)) + c) | 0;
    a = (a + ((bb & d) | (c & ~d)) + x9 + 568446438) | 0; a = (((a << 5) | (a >>> 27)) + bb) | 0;
    d = (d + ((a & c) | (bb & ~c)) + x14 - 1019803690) | 0; d = (((d << 9) | (d >>> 23)) + a) | 0;
    c = (c + ((d & bb) | (a & ~bb)) + x3 - 187363961) | 0; c = (((c << 14) | (c >>> 18)) + d) | 0;
    bb = (bb + ((c & a) | (d & ~a)) + x8 + 1163531501) | 0; bb = (((bb << 20) | (bb >>> 12)) + c) | 0;
    a = (a + ((bb & d) | (c & ~d)) + x13 - 1444681467) | 0; a = (((a << 5) | (a >>> 27)) + bb) | 0;
    d = (d + ((a & c) | (bb & ~c)) + x2 - 51403784) | 0; d = (((d << 9) | (d >>> 23)) + a) | 0;
    c = (c + ((d & bb) | (a & ~bb)) + x7 + 1735328473) | 0; c = (((c << 14) | (c >>> 18)) + d) | 0;
    bb = (bb + ((c & a) | (d & ~a)) + x12 - 1926607734) | 0; bb = (((bb << 20) | (bb >>> 12)) + c) | 0;

    a = (a + (bb ^ c ^ d) + x5 - 378558) | 0; a = (((a << 4) | (a >>> 28)) + bb) | 0;
    d = (d + (a ^ bb ^ c) + x8 - 2022574463) | 0; d = (((d << 11) | (d >>> 21)) + a) | 0;
    c = (c + (d ^ a ^ bb) + x11 + 1839030562) | 0; c = (((c << 16) | (c >>> 16)) + d) | 0;
    bb = (bb + (c ^ d ^ a) + x14 - 35309556) | 0; bb = (((bb << 23) | (bb >>> 9)) + c) | 0;
    a = (a + (bb ^ c ^ d) + x1 - 1530992060) | 0; a = (((a << 4) | (a >>> 28)) + bb) | 0;
    d = (d + (a ^ bb ^ c) + x4 + 1272893353) | 0; d = (((d << 11) | (d >>> 21)) + a) | 0;
    c = (c + (d ^ a ^ bb) + x7 - 155497632) | 0; c = (((c << 16) | (c >>> 16)) + d) | 0;
    bb = (bb + (c ^ d ^ a) + x10 - 1094730640) | 0; bb = (((bb << 23) | (bb >>> 9)) + c) | 0;
    a = (a + (bb ^ c ^ d) + x13 + 681279174) | 0; a = (((a << 4) | (a >>> 28)) + bb) | 0;
    d = (d + (a ^ bb ^ c) + x0 - 358537222) | 0; d = (((d << 11) | (d >>> 21)) + a) | 0;
    c = (c + (d ^ a ^ bb) + x3 - 722521979) | 0; c = (((c << 16) | (c >>> 16)) + d) | 0;
    bb = (bb + (c ^ d ^ a) + x6 + 76029189) | 0; bb = (((bb << 23) | (bb >>> 9)) + c) | 0;
    a = (a + (bb ^ c ^ d) + x9 - 640364487) | 0; a = (((a << 4) | (a >>> 28)) + bb) | 0;
    d = (d + (a ^ bb ^ c) + x12 - 421815835) | 0; d = (((d << 11) | (d >>> 21)) + a) | 0;
    c = (c + (d ^ a ^ bb) + x15 + 530742520) | 0; c = (((c << 16) | (c >>> 16)) + d) | 0;
    bb = (bb + (c ^ d ^ a) + x2 - 995338651) | 0; bb = (((bb << 23) | (bb >>> 9)) + c) | 0;

    a = (a + (c ^ (bb | ~d)) + x0 - 198630844) | 0; a = (((a << 6) | (a >>> 26)) + bb) | 0;
    d = (d + (bb ^ (a | ~c)) + x7 + 1126891415) | 0; d = (((d << 10) | (d >>> 22)) + a) | 0;
    c = (c + (a ^ (d | ~bb)) + x14 - 1416354905) | 0; c = (((c << 15) | (c >>> 17)) + d) | 0;
    bb = (bb + (d ^ (c | ~a)) + x5 - 57434055) | 0; bb = (((bb << 21) | (bb >>> 11)) + c) | 0;
    a = (a + (c ^ (bb | ~d)) + x12 + 1700485571) | 0; a = (((a << 6) | (a >>> 26)) + bb) | 0;
    d = (d + (bb ^ (a | ~c)) + x3 - 1894986606) | 0; d = (((d << 10) | (d >>> 22)) + a) | 0;
    c = (c + (a ^ (d | ~bb)) + x10 - 1051523) | 0; c = (((c << 15) | (c >>> 17)) + d) | 0;
    bb = (bb + (d ^ (c | ~a)) + x1 - 2054922799) | 0; bb = (((bb << 21) | (bb >>> 11)) + c) | 0;
    a = (a + (c ^ (bb | ~d)) + x8 + 1873313359) | 0; a = (((a << 6) | (a >>> 26)) + bb) | 0;
    d = (d + (bb ^ (a | ~c)) + x15 - 30611744) | 0; d = (((d << 10) | (d >>> 22)) + a) | 0;
    c = (c + (a ^ (d | ~bb)) + x6 - 1560198380) | 0; c = (((c << 15) | (c >>> 17)) + d) | 0;
    bb = (bb + (d ^ (c | ~a)) + x13 + 1309151649) | 0; bb = (((bb << 21) | (bb >>> 11)) + c) | 0;
    a = (a + (c ^ (bb | ~d)) + x4 - 145523070) | 0; a = (((a << 6) | (a >>> 26)) + bb) | 0;
    d = (d + (bb ^ (a | ~c)) + x11 - 1120210379) | 0; d = (((d << 10) | (d >>> 22)) + a) | 0;
    c = (c + (a ^ (d | ~bb)) + x2 + 718787259) | 0; c = (((c << 15) | (c >>> 17)) + d) | 0;
    bb = (bb + (d ^ (c | ~a)) + x9 - 343485551) | 0; bb = (((bb << 21) | (bb >>> 11)) + c) | 0;

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
