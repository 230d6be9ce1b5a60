// Weight quantization for DSConv: VQK (b-bit integers) and KDS (block scales),
// plus nibble/byte packing. Arithmetic follows docs/ARITHMETIC.md exactly.
import { type BlockMode, QUANT_RANGES } from './options.js';
import { requireFinite, float32Array, int, object, keysOf, knownOptions } from './validate.js';

export type { BlockMode };

/** OIHW weight shape with I = groupChannels (C_g = C_in / groups). */
export interface WeightShape {
  outChannels: number;
  groupChannels: number;
  kh: number;
  kw: number;
}

export interface QuantizedWeights {
  /** VQK, OIHW, same length as the weights. */
  q: Int8Array;
  /** KDS. 'channels': [C_out][nBlocks][kh][kw]; 'taps': [C_out]. */
  scales: Float32Array;
  /** ceil(C_g / B) for 'channels'; 1 for 'taps'. */
  nBlocks: number;
}

/**
 * Round to nearest, ties to even. Works on |t| so that `a - floor(a)` is
 * exact (Sterbenz) and a tie is detected only when the fraction is exactly 0.5.
 */
export function roundHalfEven(t: number): number {
  const a = Math.abs(t);
  let r = Math.floor(a);
  const d = a - r;
  if (d > 0.5 || (d === 0.5 && r % 2 === 1)) r += 1;
  // `+ 0` turns -0 into +0 so callers never see a signed zero.
  return (t < 0 ? -r : r) + 0;
}

function checkBits(bits: number): void {
  const [lo, hi] = QUANT_RANGES.bits;
  if (!Number.isInteger(bits) || bits < lo || bits > hi) {
    throw new RangeError(`bits must be an integer in ${lo}..${hi}, got ${bits}`);
  }
}

function checkCount(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
  }
}

/**
 * Quantize one block given by the index list `idx` into `w`: writes q and
 * returns the float32 scale. Order of `idx` is the tie-break and summation order.
 */
function quantizeBlock(w: Float32Array, idx: number[], bits: number, q: Int8Array): number {
  // Find the signed entry with the largest magnitude; strict `>` keeps the
  // first one on a +a/-a tie.
  let mx = 0;
  let amx = 0;
  for (const k of idx) {
    const a = Math.abs(w[k]);
    if (a > amx) {
      amx = a;
      mx = w[k];
    }
  }
  if (mx === 0) {
    for (const k of idx) q[k] = 0;
    return 0; // all-zero block: scale 0 instead of 0/0
  }
  const lo = -(2 ** (bits - 1));
  const hi = 2 ** (bits - 1) - 1;
  let num = 0;
  let den = 0;
  for (const k of idx) {
    // Multiply then divide: the product is exact, so the quotient is rounded
    // once and exact ties stay ties (see docs/ARITHMETIC.md step 2).
    const t = (lo * w[k]) / mx;
    const v = Math.min(hi, Math.max(lo, roundHalfEven(t)));
    q[k] = v;
    num += w[k] * v;
    den += v * v;
  }
  // den >= 2^(2b-2) > 0 because mx itself maps to -2^(b-1).
  return Math.fround(num / den);
}

const SHAPE_KEYS = keysOf<WeightShape>({ outChannels: 1, groupChannels: 1, kh: 1, kw: 1 });

/**
 * VQK and KDS of float32 OIHW weights `w` of `shape` (docs/ARITHMETIC.md, "Weights"): b-bit
 * integers and one scale per block of `blockSize` input channels and tap ('channels'), or per
 * output channel over its taps ('taps', depthwise only).
 */
export function quantizeWeights(
  w: Float32Array,
  shape: WeightShape,
  bits: number,
  blockSize: number,
  mode: BlockMode,
): QuantizedWeights {
  const sh = object('shape', shape);
  knownOptions('shape', sh, SHAPE_KEYS);
  // A weight tensor with no entries has nothing to quantize: every dimension is at least 1.
  const outChannels = int('shape.outChannels', sh.outChannels, 1);
  const groupChannels = int('shape.groupChannels', sh.groupChannels, 1);
  const kh = int('shape.kh', sh.kh, 1);
  const kw = int('shape.kw', sh.kw, 1);
  checkBits(bits);
  const total = outChannels * groupChannels * kh * kw;
  float32Array('weights', w, total, `OIHW [${outChannels}][${groupChannels}][${kh}][${kw}]`);
  // A NaN would make the max search and the scale meaningless.
  requireFinite('weights', w);
  const q = new Int8Array(total);
  const taps = kh * kw;

  if (mode === 'taps') {
    if (groupChannels !== 1) {
      throw new RangeError(
        `block mode 'taps' needs groupChannels === 1 (depthwise), got ${groupChannels}`,
      );
    }
    const scales = new Float32Array(outChannels);
    for (let o = 0; o < outChannels; o++) {
      const idx: number[] = [];
      for (let t = 0; t < taps; t++) idx.push(o * taps + t);
      scales[o] = quantizeBlock(w, idx, bits, q);
    }
    return { q, scales, nBlocks: 1 };
  }

  if (mode !== 'channels') {
    throw new RangeError(`unknown block mode ${String(mode)}`);
  }
  if (!Number.isInteger(blockSize) || blockSize < 1) {
    throw new RangeError(`blockSize must be a positive integer, got ${blockSize}`);
  }
  const nBlocks = Math.ceil(groupChannels / blockSize);
  const scales = new Float32Array(outChannels * nBlocks * taps);
  for (let o = 0; o < outChannels; o++) {
    for (let b = 0; b < nBlocks; b++) {
      const c0 = b * blockSize;
      const c1 = Math.min(c0 + blockSize, groupChannels);
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const idx: number[] = [];
          for (let c = c0; c < c1; c++) idx.push(((o * groupChannels + c) * kh + i) * kw + j);
          scales[((o * nBlocks + b) * kh + i) * kw + j] = quantizeBlock(w, idx, bits, q);
        }
      }
    }
  }
  return { q, scales, nBlocks };
}

/** Bytes needed to store `count` packed b-bit integers. */
export function packedWeightBytes(count: number, bits: number): number {
  checkCount('count', count);
  checkBits(bits);
  return bits <= 4 ? Math.ceil(count / 2) : count;
}

/**
 * b <= 4: two per byte, element 2k in the low nibble and 2k+1 in the high
 * nibble (two's complement nibbles); b > 4: one int8 per byte.
 */
export function packInts(q: Int8Array, bits: number): Uint8Array {
  checkBits(bits);
  const lo = -(2 ** (bits - 1));
  const hi = 2 ** (bits - 1) - 1;
  // Out-of-range values would not survive the round trip, so refuse them.
  for (let k = 0; k < q.length; k++) {
    if (q[k] < lo || q[k] > hi) {
      throw new RangeError(`q[${k}] = ${q[k]} does not fit in ${bits} bits`);
    }
  }
  const out = new Uint8Array(packedWeightBytes(q.length, bits));
  if (bits <= 4) {
    for (let k = 0; k < q.length; k++) {
      const nib = q[k] & 15;
      out[k >> 1] |= (k & 1) === 0 ? nib : nib << 4;
    }
  } else {
    for (let k = 0; k < q.length; k++) out[k] = q[k] & 255;
  }
  return out;
}

/** Exact inverse of packInts for the first `count` values. */
export function unpackInts(bytes: Uint8Array, count: number, bits: number): Int8Array {
  const need = packedWeightBytes(count, bits);
  if (bytes.length < need) {
    throw new RangeError(`need ${need} bytes for ${count} ${bits}-bit values, got ${bytes.length}`);
  }
  const out = new Int8Array(count);
  if (bits <= 4) {
    for (let k = 0; k < count; k++) {
      const nib = (k & 1) === 0 ? bytes[k >> 1] & 15 : bytes[k >> 1] >> 4;
      out[k] = (nib << 28) >> 28; // sign-extend the nibble
    }
  } else {
    for (let k = 0; k < count; k++) out[k] = bytes[k]; // Int8Array wraps to two's complement
  }
  return out;
}
