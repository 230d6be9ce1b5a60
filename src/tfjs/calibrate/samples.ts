// What the statistics are made of: the float layer's outputs, a seeded sample of output positions
// in each image, the float targets there, and the BFP-dequantized input patches a DSConv layer
// reads at them.
import { Conv2d } from '../../core/layers/conv2d.js';
import type { DSConvOptions } from '../../core/options.js';
import { outputExtent } from '../../core/geometry.js';
import { mulberry32 } from '../../core/random.js';
import { bfpDequantize } from '../../core/bfp.js';
import { gemmPanels, panelIndex, panelsLength } from '../../core/moments.js';
import type { ConvCall } from '../types.js';
import type { Dims } from './dims.js';

/** The float layer's pre-activation output, in the call's layout. */
export function floatConv(call: ConvCall): Float32Array {
  const layer = new Conv2d(call.weights, call.options);
  try {
    return layer.forward(call.input, call.shape);
  } finally {
    layer.dispose();
  }
}

/** [outHeight, outWidth] of a call (its padding is explicit: the plug-in resolves it). */
export function outSize(o: DSConvOptions, h: number, w: number): [number, number] {
  const [kh, kw] = o.kernelSize as [number, number];
  const [sy, sx] = o.stride as [number, number];
  const [dy, dx] = o.dilation as [number, number];
  const [t, l, b, r] = o.padding as number[];
  return [outputExtent(h, kh, sy, dy, t, b), outputExtent(w, kw, sx, dx, l, r)];
}

/** Positions sampled in image `image` (0-based, over the whole calibration): `samples` spread evenly over `count` images. */
export function perImage(samples: number, count: number, image: number): number {
  return Math.floor(((image + 1) * samples) / count) - Math.floor((image * samples) / count);
}

/**
 * Sampled output positions of a call whose images are `first`, `first + 1`, ...: per image,
 * `perImage` distinct positions of its oh·ow (all of them when there are fewer), sorted, drawn
 * from a generator seeded by the seed, the output size and the image, so that convs with the same
 * output size sample the same positions (and share statistics when they read the same input) and
 * how the images are split into batches changes nothing. Flat: n·oh·ow + y·ow + x.
 */
export function positions(call: ConvCall, first: number, samples: number, count: number, seed: number): Int32Array {
  const [oh, ow] = outSize(call.options, call.shape.height, call.shape.width);
  const M = oh * ow;
  const parts: Int32Array[] = [];
  for (let n = 0; n < call.shape.batch; n++) {
    const image = first + n;
    const k = Math.min(M, perImage(samples, count, image));
    const p = k === M ? Int32Array.from({ length: M }, (_, i) => i) : draw(M, k, mulberry32(mix(seed, oh, ow, image)));
    for (let i = 0; i < p.length; i++) p[i] += n * M;
    parts.push(p);
  }
  const out = new Int32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** k distinct integers of [0, M), sorted. */
function draw(M: number, k: number, next: () => number): Int32Array {
  if (2 * k > M) {
    // Dense: a partial Fisher–Yates shuffle.
    const all = Int32Array.from({ length: M }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(next() * (M - i));
      const t = all[i]; all[i] = all[j]; all[j] = t;
    }
    return all.subarray(0, k).sort();
  }
  const picked = new Set<number>();
  while (picked.size < k) picked.add(Math.floor(next() * M));
  return Int32Array.from(picked).sort();
}

function mix(...v: number[]): number {
  let h = 0x811c9dc5;
  for (const x of v) h = Math.imul(h ^ (x >>> 0), 0x01000193) ^ (h >>> 15);
  return h >>> 0;
}

/** The output values at `pos`, per group in the panels of the Gram kernel: [group][Og][position] (core/gemm.ts). */
export function gatherOutput(call: ConvCall, y: Float32Array, pos: Int32Array, d: Dims): Float64Array {
  const { C, Og, groups } = d;
  const [oh, ow] = outSize(call.options, call.shape.height, call.shape.width);
  const M = oh * ow, S = pos.length;
  const out = new Float64Array(panelsLength(groups, Og, S));
  const nchw = call.shape.layout === 'NCHW';
  for (let s = 0; s < S; s++) {
    const p = pos[s];
    const n = Math.floor(p / M);
    const at = nchw ? n * C * M + (p - n * M) : p * C, step = nchw ? M : 1;
    for (let g = 0; g < groups; g++) {
      for (let o = 0; o < Og; o++) out[panelIndex(g, o, s, Og, S)] = y[at + (g * Og + o) * step];
    }
  }
  return out;
}

/**
 * Calls `visit(row, at, stride)` for each tap of each sampled position that reads the input:
 * row s·taps + t of the patches, the input index of its first channel and the channel stride.
 */
function eachPixel(call: ConvCall, pos: Int32Array, visit: (row: number, at: number, stride: number) => void): void {
  const opts = call.options;
  const Cin = opts.inChannels;
  const [kh, kw] = opts.kernelSize as [number, number];
  const { height: H, width: W } = call.shape;
  const [oh, ow] = outSize(opts, H, W);
  const [sy, sx] = opts.stride as [number, number];
  const [dy, dx] = opts.dilation as [number, number];
  const [pt, pl] = opts.padding as number[];
  const nchw = call.shape.layout === 'NCHW', plane = H * W;
  for (let s = 0; s < pos.length; s++) {
    const p = pos[s];
    const n = Math.floor(p / (oh * ow)), oy = Math.floor((p % (oh * ow)) / ow), ox = p % ow;
    for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
      const iy = oy * sy - pt + i * dy, ix = ox * sx - pl + j * dx;
      if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
      const row = s * kh * kw + i * kw + j;
      if (nchw) visit(row, n * Cin * plane + iy * W + ix, plane);
      else visit(row, ((n * H + iy) * W + ix) * Cin, 1);
    }
  }
}

/** The float input pixels each sampled position reads, [S·taps][Cin] (tap-major per position), zero where a tap reads padding. */
export function gatherPixels(call: ConvCall, pos: Int32Array): Float32Array {
  const Cin = call.options.inChannels, x = call.input;
  const [kh, kw] = call.options.kernelSize as [number, number];
  const px = new Float32Array(pos.length * kh * kw * Cin);
  eachPixel(call, pos, (row, at, stride) => {
    const to = row * Cin;
    if (stride === 1) px.set(x.subarray(at, at + Cin), to);
    else for (let c = 0; c < Cin; c++) px[to + c] = x[at + c * stride];
  });
  return px;
}

/**
 * Two 32-bit hashes (FNV-1a and a multiplicative one) of the bits of the pixels gatherPixels
 * would gather, and where: convs whose digests match read the same input at the same positions.
 * A digest rather than the pixels themselves, which for a large sample would take more memory
 * than the fits; two independent hashes of the same bits collide about once in 2^64.
 */
export function pixelDigest(call: ConvCall, pos: Int32Array): string {
  const x = call.input, Cin = call.options.inChannels;
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  let a = 0x811c9dc5, b = 0x2545f491;
  eachPixel(call, pos, (row, at, stride) => {
    a = Math.imul(a ^ row, 0x01000193);
    for (let c = 0; c < Cin; c++) {
      const v = bits[at + c * stride];
      a = Math.imul(a ^ v, 0x01000193);
      b = Math.imul(b ^ v, 0x9e3779b1) ^ (b >>> 13);
    }
  });
  return `${pos.length}:${a >>> 0}:${b >>> 0}`;
}

/**
 * The sampled pixels BFP-dequantized (each pixel's blocks as the DSConv layer forms them, so
 * quantizing only these pixels gives the same values as the whole input), per group in the
 * panels of the Gram kernel: [group][j = t·C_g + c][s] (core/gemm.ts).
 */
export function columns(px: Float32Array, S: number, d: Dims, blockSize: number, mantissaBits: number, into: PanelScratch): Float64Array {
  const { Cin, Cg, groups, taps, D } = d;
  const xq = bfpDequantize(px, S * taps, Cin, groups, blockSize, mantissaBits);
  const X = into.take(panelsLength(groups, D, S));
  // panelIndex(g, j, s, D, S), unrolled: a panel of four columns is 4·S values long.
  const panel = 4 * S, group = Math.ceil(D / 4) * panel;
  for (let s = 0; s < S; s++) {
    for (let t = 0; t < taps; t++) {
      const from = (s * taps + t) * Cin;
      for (let g = 0; g < groups; g++) {
        const f = from + g * Cg, to = g * group + 4 * s;
        for (let c = 0, j = t * Cg; c < Cg; c++, j++) X[to + (j >> 2) * panel + (j & 3)] = xq[f + c];
      }
    }
  }
  return X;
}

/**
 * A conv's float weights per group as the Gram kernel's panels over the columns j: variable o of
 * group g, sample j = t·C_g + c (core/moments.ts), for sampledTargets.
 */
export function weightPanels(w: Float32Array, d: Dims): Float64Array {
  const { groups, Og, D, weightAt } = d;
  const P = new Float64Array(panelsLength(groups, Og, D));
  for (let g = 0; g < groups; g++) {
    for (let o = 0; o < Og; o++) {
      const row = (g * Og + o) * D;
      for (let j = 0; j < D; j++) P[panelIndex(g, o, j, Og, D)] = w[row + weightAt[j]];
    }
  }
  return P;
}

/**
 * The float conv's outputs at S sampled positions, from their patches `px` ([S·taps][Cin], as
 * gatherPixels gives them) and the weight panels: per group and position Σ_j w_oj·x_j in float64
 * (each product exact, in column order) plus the bias, in the panels of the target sums
 * ([group][Og][S]). Only the sampled positions are computed, where the float conv over the whole
 * input cost calibration more than its fits on large models.
 */
export function sampledTargets(px: Float32Array, S: number, d: Dims, W: Float64Array, bias: Float32Array | undefined, into: PanelScratch): Float64Array {
  const { Cin, Cg, groups, taps, Og, D } = d;
  // The patches as panels of S variables (positions) over D samples (columns), per group.
  const A = into.take(panelsLength(groups, S, D));
  const group = Math.ceil(S / 4) * 4 * D; // panelIndex(g, s, j, S, D), unrolled
  for (let s = 0; s < S; s++) {
    const at = (s >> 2) * 4 * D + (s & 3);
    for (let t = 0; t < taps; t++) {
      const from = (s * taps + t) * Cin;
      for (let g = 0; g < groups; g++) {
        const f = from + g * Cg, to = g * group + at + 4 * t * Cg;
        for (let c = 0; c < Cg; c++) A[to + 4 * c] = px[f + c];
      }
    }
  }
  const Y = new Float64Array(groups * S * Og);
  gemmPanels(Y, A, W, groups, S, Og, D);
  const T = new Float64Array(panelsLength(groups, Og, S));
  for (let g = 0; g < groups; g++) {
    for (let s = 0; s < S; s++) {
      for (let o = 0; o < Og; o++) T[panelIndex(g, o, s, Og, S)] = Y[(g * S + s) * Og + o] + (bias ? bias[g * Og + o] : 0);
    }
  }
  return T;
}

/**
 * One zeroed Float64Array reused for the panels of each slice (grow-only): a new one per slice of
 * a large conv is megabytes, which the collector then spends seconds on over a calibration.
 */
export class PanelScratch {
  private buffer = new Float64Array(0);

  /** n zeros, valid until the next take(). */
  take(n: number): Float64Array {
    if (n > this.buffer.length) this.buffer = new Float64Array(n);
    return this.buffer.subarray(0, n).fill(0);
  }
}
