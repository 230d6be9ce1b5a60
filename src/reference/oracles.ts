// Plain scalar references for DSConv (float64, simple loops). Written for
// clarity: the fast kernels are tested against these, so they follow
// docs/ARITHMETIC.md literally rather than cleverly.

// They share with the package only types, the argument checks' messages and the output-size
// formula.
import type { BlockMode, QuantizedWeights } from '../core/quantize.js';
import type { Activation } from '../core/geometry.js';
import { outputExtent } from '../core/geometry.js';
import { requireFinite } from '../core/validate.js';

export type { Activation };

/** Exponent reported for an all-zero block. */
export const ZERO_BLOCK = -1000;

export interface BfpResult {
  /** [pixels][channels] mantissas. */
  mant: Int8Array;
  /** [pixels][groups*nBlocks] shared exponents E (ZERO_BLOCK for a zero block). */
  exps: Int32Array;
  /** [pixels][groups*nBlocks] 2^(E-m+2), 0 for a zero block. */
  scales: Float64Array;
}

export interface ConvGeometry {
  batch: number;
  inChannels: number;
  height: number;
  width: number;
  outChannels: number;
  kh: number;
  kw: number;
  /** [sy, sx] */
  stride: [number, number];
  /** [top, left, bottom, right] */
  padding: [number, number, number, number];
  /** [dy, dx] */
  dilation: [number, number];
  groups: number;
}

export interface Epilogue {
  bias?: Float32Array;
  gamma?: Float32Array;
  delta?: Float32Array;
  activation?: Activation;
}

// Scratch for reading/writing bit patterns; DataView keeps it endian-neutral.
const scratch = new DataView(new ArrayBuffer(8));

/** Exactly 2^k for integer k in the float64 normal range (built from bits, so no doubt about pow rounding). */
function pow2(k: number): number {
  if (k < -1022 || k > 1023) throw new RangeError(`2^${k} is outside the float64 normal range`);
  scratch.setUint32(0, (k + 1023) << 20);
  scratch.setUint32(4, 0);
  return scratch.getFloat64(0);
}

/** Unbiased float32 exponent of v, or null for zero and subnormals (flushed to zero). */
function f32Exponent(v: number): number | null {
  scratch.setFloat32(0, v);
  const field = (scratch.getUint32(0) >>> 23) & 255;
  return field === 0 ? null : field - 127;
}

/** Round to nearest, ties away from zero; on |t| so the fraction is exact. */
export function roundHalfAwayFromZero(t: number): number {
  const a = Math.abs(t);
  let r = Math.floor(a);
  if (a - r >= 0.5) r += 1;
  return (t < 0 ? -r : r) + 0; // no -0
}

function checkPositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
}

function checkMantissaBits(m: number): void {
  if (!Number.isInteger(m) || m < 2 || m > 8) {
    throw new RangeError(`mantissaBits must be an integer in 2..8, got ${m}`);
  }
}

/**
 * Block floating point quantization of x: [pixels][channels], channel fastest.
 * Blocks are B consecutive channels inside each of `groups` groups (last block short).
 */
export function bfpReference(
  x: Float32Array,
  pixels: number,
  channels: number,
  groups: number,
  blockSize: number,
  mantissaBits: number,
): BfpResult {
  if (!Number.isInteger(pixels) || pixels < 0) throw new RangeError(`pixels must be a non-negative integer, got ${pixels}`);
  checkPositiveInt('channels', channels);
  checkPositiveInt('groups', groups);
  checkPositiveInt('blockSize', blockSize);
  checkMantissaBits(mantissaBits);
  if (channels % groups !== 0) throw new RangeError(`channels ${channels} is not divisible by groups ${groups}`);
  if (x.length !== pixels * channels) {
    throw new RangeError(`input length ${x.length} does not match pixels*channels = ${pixels * channels}`);
  }
  requireFinite('input', x);

  const m = mantissaBits;
  const mmax = 2 ** (m - 1) - 1; // symmetric range: -(2^(m-1)-1) .. 2^(m-1)-1
  const cg = channels / groups;
  const nB = Math.ceil(cg / blockSize);
  const mant = new Int8Array(pixels * channels);
  const exps = new Int32Array(pixels * groups * nB);
  const scales = new Float64Array(pixels * groups * nB);

  for (let p = 0; p < pixels; p++) {
    for (let g = 0; g < groups; g++) {
      for (let b = 0; b < nB; b++) {
        const c0 = g * cg + b * blockSize;
        const c1 = g * cg + Math.min((b + 1) * blockSize, cg);
        const slot = (p * groups + g) * nB + b;

        let E: number | null = null;
        for (let c = c0; c < c1; c++) {
          const e = f32Exponent(x[p * channels + c]);
          if (e !== null && (E === null || e > E)) E = e;
        }
        if (E === null) {
          // All zero (or subnormal): mantissas stay 0.
          exps[slot] = ZERO_BLOCK;
          scales[slot] = 0;
          continue;
        }
        exps[slot] = E;
        scales[slot] = pow2(E - m + 2);
        const shift = pow2(m - 2 - E);
        for (let c = c0; c < c1; c++) {
          const v = x[p * channels + c];
          if (f32Exponent(v) === null) continue; // subnormal or zero: flushed, M = 0
          // v is a float32 and shift a power of two, so the product is exact in float64.
          const r = roundHalfAwayFromZero(v * shift);
          mant[p * channels + c] = Math.min(mmax, Math.max(-mmax, r));
        }
      }
    }
  }
  return { mant, exps, scales };
}

/** [oh, ow] of a convolution, as in any standard conv. */
export function outputSize(g: ConvGeometry): [number, number] {
  const [pt, pl, pb, pr] = g.padding;
  return [outputExtent(g.height, g.kh, g.stride[0], g.dilation[0], pt, pb), outputExtent(g.width, g.kw, g.stride[1], g.dilation[1], pl, pr)];
}

function checkGeometry(g: ConvGeometry): [number, number] {
  checkPositiveInt('batch', g.batch);
  checkPositiveInt('inChannels', g.inChannels);
  checkPositiveInt('height', g.height);
  checkPositiveInt('width', g.width);
  checkPositiveInt('outChannels', g.outChannels);
  checkPositiveInt('kh', g.kh);
  checkPositiveInt('kw', g.kw);
  checkPositiveInt('groups', g.groups);
  g.stride.forEach((v, k) => checkPositiveInt(`stride[${k}]`, v));
  g.dilation.forEach((v, k) => checkPositiveInt(`dilation[${k}]`, v));
  g.padding.forEach((v, k) => {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`padding[${k}] must be a non-negative integer, got ${v}`);
  });
  if (g.inChannels % g.groups !== 0) throw new RangeError(`inChannels ${g.inChannels} is not divisible by groups ${g.groups}`);
  if (g.outChannels % g.groups !== 0) throw new RangeError(`outChannels ${g.outChannels} is not divisible by groups ${g.groups}`);
  const [oh, ow] = outputSize(g);
  if (oh < 1 || ow < 1) throw new RangeError(`output size ${oh}x${ow} is empty`);
  return [oh, ow];
}

function checkEpilogue(ep: Epilogue | undefined, outChannels: number): void {
  if (!ep) return;
  for (const name of ['bias', 'gamma', 'delta'] as const) {
    const a = ep[name];
    if (a && a.length !== outChannels) {
      throw new RangeError(`${name} length ${a.length} does not match outChannels ${outChannels}`);
    }
  }
  const act = ep.activation;
  if (act !== undefined && act !== 'none' && act !== 'relu' && act !== 'relu6') {
    throw new RangeError(`unknown activation ${String(act)}`);
  }
}

/** y = conv + bias; y = gamma*y + delta; then the activation. */
function applyEpilogue(y: number, o: number, ep: Epilogue | undefined): number {
  if (!ep) return y;
  if (ep.bias) y += ep.bias[o];
  const gamma = ep.gamma ? ep.gamma[o] : 1;
  const delta = ep.delta ? ep.delta[o] : 0;
  y = gamma * y + delta;
  if (ep.activation === 'relu') y = Math.max(0, y);
  else if (ep.activation === 'relu6') y = Math.min(6, Math.max(0, y));
  return y;
}

/** Float convolution with float64 accumulation. input NCHW, weights OIHW, output NCHW. */
export function conv2dReference(
  input: Float32Array,
  weights: Float32Array,
  g: ConvGeometry,
  ep?: Epilogue,
): Float64Array {
  const [oh, ow] = checkGeometry(g);
  const { batch: N, inChannels: C, height: H, width: W, outChannels: O, kh, kw, groups } = g;
  const cg = C / groups;
  const og = O / groups;
  if (input.length !== N * C * H * W) throw new RangeError(`input length ${input.length} does not match N*C*H*W = ${N * C * H * W}`);
  if (weights.length !== O * cg * kh * kw) {
    throw new RangeError(`weights length ${weights.length} does not match O*(C/groups)*kh*kw = ${O * cg * kh * kw}`);
  }
  checkEpilogue(ep, O);
  requireFinite('input', input);
  requireFinite('weights', weights);
  const [sy, sx] = g.stride;
  const [pt, pl] = g.padding;
  const [dy, dx] = g.dilation;

  const out = new Float64Array(N * O * oh * ow);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const grp = Math.floor(o / og);
      for (let y = 0; y < oh; y++) {
        for (let x = 0; x < ow; x++) {
          let acc = 0;
          for (let c = 0; c < cg; c++) {
            const ci = grp * cg + c;
            for (let i = 0; i < kh; i++) {
              const iy = y * sy - pt + i * dy;
              if (iy < 0 || iy >= H) continue; // zero padding
              for (let j = 0; j < kw; j++) {
                const ix = x * sx - pl + j * dx;
                if (ix < 0 || ix >= W) continue;
                acc += input[((n * C + ci) * H + iy) * W + ix] * weights[((o * cg + c) * kh + i) * kw + j];
              }
            }
          }
          out[((n * O + o) * oh + y) * ow + x] = applyEpilogue(acc, o, ep);
        }
      }
    }
  }
  return out;
}

/**
 * DSConv reference: BFP activations (same blocks as the weights; one channel
 * per block in 'taps' mode) times VQK integers, each block's exact integer dot
 * product scaled by ξ·2^(E-m+2) in float64.
 */
export function dsconvReference(
  input: Float32Array,
  qw: QuantizedWeights,
  mode: BlockMode,
  g: ConvGeometry,
  blockSize: number,
  mantissaBits: number,
  ep?: Epilogue,
): Float64Array {
  const [oh, ow] = checkGeometry(g);
  checkMantissaBits(mantissaBits);
  const { batch: N, inChannels: C, height: H, width: W, outChannels: O, kh, kw, groups } = g;
  const cg = C / groups;
  const og = O / groups;
  if (input.length !== N * C * H * W) throw new RangeError(`input length ${input.length} does not match N*C*H*W = ${N * C * H * W}`);
  if (qw.q.length !== O * cg * kh * kw) {
    throw new RangeError(`q length ${qw.q.length} does not match O*(C/groups)*kh*kw = ${O * cg * kh * kw}`);
  }
  // In 'taps' mode B does not apply: activation blocks are single channels.
  let actBlock: number;
  if (mode === 'taps') {
    if (cg !== 1) throw new RangeError(`block mode 'taps' needs inChannels/groups === 1 (depthwise), got ${cg}`);
    if (qw.nBlocks !== 1 || qw.scales.length !== O) {
      throw new RangeError(`'taps' weights need nBlocks 1 and ${O} scales, got ${qw.nBlocks} and ${qw.scales.length}`);
    }
    actBlock = 1;
  } else if (mode === 'channels') {
    checkPositiveInt('blockSize', blockSize);
    const nb = Math.ceil(cg / blockSize);
    if (qw.nBlocks !== nb || qw.scales.length !== O * nb * kh * kw) {
      throw new RangeError(
        `'channels' weights need nBlocks ${nb} and ${O * nb * kh * kw} scales, got ${qw.nBlocks} and ${qw.scales.length}`,
      );
    }
    actBlock = blockSize;
  } else {
    throw new RangeError(`unknown block mode ${String(mode)}`);
  }
  checkEpilogue(ep, O);
  requireFinite('input', input);
  const nB = qw.nBlocks;
  const [sy, sx] = g.stride;
  const [pt, pl] = g.padding;
  const [dy, dx] = g.dilation;
  const HW = H * W;

  const out = new Float64Array(N * O * oh * ow);
  const pix = new Float32Array(HW * C);
  for (let n = 0; n < N; n++) {
    // NCHW -> [pixel][channel] so bfpReference sees one pixel's channels contiguously.
    for (let c = 0; c < C; c++) {
      for (let p = 0; p < HW; p++) pix[p * C + c] = input[(n * C + c) * HW + p];
    }
    const bfp = bfpReference(pix, HW, C, groups, actBlock, mantissaBits);

    for (let o = 0; o < O; o++) {
      const grp = Math.floor(o / og);
      for (let y = 0; y < oh; y++) {
        for (let x = 0; x < ow; x++) {
          let acc = 0;
          for (let i = 0; i < kh; i++) {
            const iy = y * sy - pt + i * dy;
            if (iy < 0 || iy >= H) continue; // padded: M = 0
            for (let j = 0; j < kw; j++) {
              const ix = x * sx - pl + j * dx;
              if (ix < 0 || ix >= W) continue;
              const p = iy * W + ix;
              for (let b = 0; b < nB; b++) {
                const c0 = b * actBlock;
                const c1 = Math.min(c0 + actBlock, cg);
                // Exact integer dot product: |dot| <= B*128*127, far inside float64's exact range.
                let dot = 0;
                for (let c = c0; c < c1; c++) {
                  dot += qw.q[((o * cg + c) * kh + i) * kw + j] * bfp.mant[p * C + grp * cg + c];
                }
                const xi = mode === 'taps' ? qw.scales[o] : qw.scales[((o * nB + b) * kh + i) * kw + j];
                const actScale = bfp.scales[(p * groups + grp) * nB + b]; // 0 for a zero block
                acc += xi * actScale * dot;
              }
            }
          }
          out[((n * O + o) * oh + y) * ow + x] = applyEpilogue(acc, o, ep);
        }
      }
    }
  }
  return out;
}
