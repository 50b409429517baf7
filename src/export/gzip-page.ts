/**
 * A gzip body (RFC 1952, one member) assembled from pieces deflated one by
 * one, so that a page made of cached family texts is compressed once per
 * family version, off the event loop, and a scrape only concatenates.
 *
 * Each piece is raw deflate (RFC 1951) of one family's text, ended with a
 * sync flush instead of a final block: its bits end on a byte boundary and
 * it refers to nothing before it, so pieces deflated on their own follow one
 * another as one valid deflate stream. The page is then
 *
 *   gzip header | piece | piece | ... | empty final block | CRC-32 | length
 *
 * and the CRC-32 of the whole text comes from the pieces' own CRCs
 * (crc32Combine), without reading the text again. One member rather than
 * concatenated gzip members, because not every client reads past the first
 * member of a gzip body.
 */
import * as zlib from 'node:zlib';

/** One family's text, deflated; `length` is the text's length in bytes. */
export interface DeflatedPiece {
  readonly deflated: Buffer;
  readonly crc: number;
  readonly length: number;
}

/** Fastest level: the page is compressed again after every change of its families, and text compresses well at any level. */
const LEVEL = zlib.constants.Z_BEST_SPEED;

/** ID1 ID2, CM=deflate, no flags, no mtime, XFL=0, OS=3 (Unix). */
const HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]);
/** A final fixed-Huffman block holding only its end code: BFINAL=1, BTYPE=01, then seven zero bits. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

/** CRC-32 of ISO-HDLC (gzip's), reflected polynomial. */
const POLY = 0xedb88320;

let table: Int32Array | undefined;

function crcTable(): Int32Array {
  if (table) return table;
  table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    table[n] = c;
  }
  return table;
}

/** CRC-32 in plain JS, for runtimes without zlib.crc32 (Node before 20.15). */
export function crc32Js(buf: Uint8Array, crc = 0): number {
  const t = crcTable();
  let c = ~crc;
  for (let i = 0; i < buf.length; i++) c = t[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 (gzip's) of `buf`, continuing from `crc`. */
export function crc32(buf: Uint8Array, crc = 0): number {
  return nativeCrc32 ? nativeCrc32(buf, crc) >>> 0 : crc32Js(buf, crc);
}

/**
 * a·b mod P over GF(2), both in the reflected order CRCs use (the top bit is
 * the coefficient of x^0).
 */
function mulMod(a: number, b: number): number {
  let product = 0;
  for (let bit = 0x80000000; a !== 0 && bit !== 0; bit >>>= 1) {
    if (a & bit) {
      product ^= b;
      a = (a & ~bit) >>> 0;
    }
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return product >>> 0;
}

/** x^(2^k) mod P for k = 0..63, so that x^n needs one product per set bit of n. */
const X_POW2: number[] = [];
{
  let p = 0x40000000; // x^1
  for (let k = 0; k < 64; k++) {
    X_POW2.push(p);
    p = mulMod(p, p);
  }
}

/** x^(8·bytes) mod P: what appending `bytes` bytes does to a CRC register. */
function shiftFor(bytes: number): number {
  let result = 0x80000000; // x^0
  let k = 3; // 8·bytes: start at 2^3
  for (let n = bytes; n > 0; n = Math.floor(n / 2), k++) {
    if (n % 2 === 1) result = mulMod(result, X_POW2[k]!);
  }
  return result;
}

/** CRC-32 of A followed by B, from crc32(A), crc32(B) and B's length. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB === 0) return crcA >>> 0;
  return (mulMod(shiftFor(lengthB), crcA) ^ crcB) >>> 0;
}

/** Deflates one piece of text in the libuv thread pool (the event loop keeps serving). */
export function deflatePiece(text: Buffer): Promise<DeflatedPiece> {
  return new Promise((resolve, reject) => {
    zlib.deflateRaw(text, { level: LEVEL, finishFlush: zlib.constants.Z_SYNC_FLUSH }, (err, deflated) => {
      if (err) reject(err);
      else resolve({ deflated, crc: crc32(text), length: text.length });
    });
  });
}

/** The same, on the calling thread: for the few KB of a page that change on every scrape. */
export function deflatePieceSync(text: Buffer): DeflatedPiece {
  const deflated = zlib.deflateRawSync(text, { level: LEVEL, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return { deflated, crc: crc32(text), length: text.length };
}

/** The buffers of one gzip member holding the pieces' texts in order. */
export function gzipMember(pieces: readonly DeflatedPiece[]): Buffer[] {
  let crc = 0;
  let length = 0;
  const out: Buffer[] = [HEADER];
  for (const p of pieces) {
    crc = crc32Combine(crc, p.crc, p.length);
    length += p.length;
    out.push(p.deflated);
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(length % 2 ** 32, 4);
  out.push(FINAL_BLOCK, trailer);
  return out;
}

/**
 * Whether an Accept-Encoding header (RFC 9110 §12.5.3) lets us answer in
 * gzip: `gzip` (or `x-gzip`) with a q above 0, or `*` above 0 where gzip is
 * not refused by name.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let gzip: number | undefined;
  let star: number | undefined;
  for (const part of header.split(',')) {
    const [token, ...params] = part.split(';');
    const name = token!.trim().toLowerCase();
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=(.*)$/i.exec(p);
      // a qvalue is 0 to 1 with up to three decimals; anything else counts as a refusal
      if (m) q = /^\s*(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\s*$/.test(m[1]!) ? Number(m[1]) : 0;
    }
    if (name === 'gzip' || name === 'x-gzip') gzip = Math.max(gzip ?? 0, q);
    else if (name === '*') star = q;
  }
  if (gzip !== undefined) return gzip > 0;
  return star !== undefined && star > 0;
}
