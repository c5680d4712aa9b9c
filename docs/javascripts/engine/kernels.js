/* Matrix-vector products on the raw blocks of a GGUF file, in plain JavaScript: the readable
 * version of what kernels.wat does with SIMD. Nothing is unpacked ahead of time; each block is
 * read where the file keeps it (llmbook/models/quant.py describes the formats).
 *
 * Q4_1 block, 20 bytes for 32 weights: float16 d, float16 m, 16 bytes of 4-bit q. The low
 * nibbles of the 16 bytes are weights 0..15, the high nibbles weights 16..31; w = d·q + m. So
 *     Σ w·x = d·Σ q·x + m·Σ x       (one multiply by d and one by m per block, not per weight).
 * Q8_0 block, 34 bytes for 32 weights: float16 d, 32 int8 q; w = d·q.
 */

/** A float16 (its 16 bits as an integer) as a number. */
export function halfToFloat(h) {
  const sign = h & 0x8000 ? -1 : 1, exponent = (h >> 10) & 0x1f, fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;  // zero and subnormals
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const HALF = Float64Array.from({ length: 65536 }, (_, h) => halfToFloat(h));  // every float16, looked up
const half = (w, at) => HALF[w[at] | (w[at + 1] << 8)];

export const BLOCK = 32;  // weights per block, both formats
export const BLOCK_BYTES = { Q4_1: 20, Q8_0: 34 };

// --8<-- [start:q4_1]
/** Σ w·x over one row of n weights stored as Q4_1 blocks from byte `at` of w (Uint8Array). */
export function dotQ4_1(w, at, x, xAt, n) {
  let sum = 0;
  for (let b = 0; b < n; b += 32, at += 20) {
    const d = half(w, at), m = half(w, at + 2);
    let qx = 0, sx = 0;  // Σ q·x and Σ x over the block
    for (let i = 0; i < 16; i++) {
      const q = w[at + 4 + i], lo = x[xAt + b + i], hi = x[xAt + b + 16 + i];
      qx += (q & 0x0f) * lo + (q >> 4) * hi;  // weight i is the low nibble, weight 16 + i the high one
      sx += lo + hi;
    }
    sum += d * qx + m * sx;
  }
  return sum;
}
// --8<-- [end:q4_1]

/** Σ w·x over one row of n weights stored as Q8_0 blocks from byte `at` of w. */
export function dotQ8_0(w, at, x, xAt, n) {
  let sum = 0;
  for (let b = 0; b < n; b += 32, at += 34) {
    let qx = 0;
    for (let i = 0; i < 32; i++) qx += ((w[at + 2 + i] << 24) >> 24) * x[xAt + b + i];  // the byte as an int8
    sum += half(w, at) * qx;
  }
  return sum;
}

const DOT = { Q4_1: dotQ4_1, Q8_0: dotQ8_0 };

/**
 * out[t·rows + r] = Σ_c W[r, c]·x[t·cols + c] for T positions: W is a (rows, cols) matrix of
 * `type` whose blocks start at byte `at` of w; x and out are Float32Arrays.
 */
export function matmul(type, w, at, rows, cols, x, out, T = 1) {
  const dot = DOT[type], rowBytes = (cols / BLOCK) * BLOCK_BYTES[type];
  for (let t = 0; t < T; t++) {
    for (let r = 0; r < rows; r++) out[t * rows + r] = dot(w, at + r * rowBytes, x, t * cols, cols);
  }
}

/** Row r of a Q8_0 or Q4_1 matrix of `cols` columns, as floats into out (an embedding lookup). */
export function dequantizeRow(type, w, at, cols, r, out, outAt = 0) {
  at += r * (cols / BLOCK) * BLOCK_BYTES[type];
  for (let b = 0; b < cols; b += 32, at += BLOCK_BYTES[type]) {
    const d = half(w, at);
    if (type === "Q8_0") {
      for (let i = 0; i < 32; i++) out[outAt + b + i] = d * ((w[at + 2 + i] << 24) >> 24);
    } else {
      const m = half(w, at + 2);
      for (let i = 0; i < 16; i++) {
        out[outAt + b + i] = d * (w[at + 4 + i] & 0x0f) + m;
        out[outAt + b + 16 + i] = d * (w[at + 4 + i] >> 4) + m;
      }
    }
  }
}
