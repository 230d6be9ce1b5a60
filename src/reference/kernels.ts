// Scalar twins of the conv micro-kernels, for the kernel-table tests: the same sums the wasm
// computes, in the same order and with the same float32 roundings, so a kernel must match its
// twin bit for bit. (dsconvReference and conv2dReference in oracles.ts are the float64 meaning of
// a layer; these are what a particular kernel is allowed to compute for it.)
import type { BlockMode } from '../core/options.js';
import { type ConvGeometry, bfpReference, outputSize } from './oracles.js';

const f = Math.fround;

/** A conv on one NHWC image (the references' geometry with batch 1), padding explicit. */
export type TwinGeometry = Omit<ConvGeometry, 'batch'>;

/** [outHeight, outWidth]. */
function outSize(g: TwinGeometry): [number, number] {
  return outputSize({ ...g, batch: 1 });
}

/**
 * Calls `each(p, o, tap, x)` for every output pixel p, output channel o and tap in order, with x
 * the input pixel index the tap reads (-1 in the padding).
 */
function walk(g: TwinGeometry, each: (p: number, o: number, tap: number, x: number) => void): void {
  const [oh, ow] = outSize(g);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      for (let o = 0; o < g.outChannels; o++) {
        for (let i = 0; i < g.kh; i++) {
          for (let j = 0; j < g.kw; j++) {
            const y = oy * g.stride[0] - g.padding[0] + i * g.dilation[0];
            const x = ox * g.stride[1] - g.padding[1] + j * g.dilation[1];
            const inside = y >= 0 && y < g.height && x >= 0 && x < g.width;
            each(oy * ow + ox, o, i * g.kw + j, inside ? y * g.width + x : -1);
          }
        }
      }
    }
  }
}

/**
 * Twin of f32_igemm_4x8 and f32_dwconv_1x16 (and so of the dequantized DSConv paths, fed their
 * dequantized inputs and weights): per output, taps in order, then the group's channels in order,
 * acc = fround(acc + fround(x · w)); a padded tap adds x = 0. Input NHWC, weights OIHW; returns
 * [pixels][outChannels], before bias and activation.
 */
export function f32ConvTwin(x: Float32Array, w: Float32Array, g: TwinGeometry): Float32Array {
  const [oh, ow] = outSize(g);
  const cg = g.inChannels / g.groups;
  const og = g.outChannels / g.groups;
  const taps = g.kh * g.kw;
  const out = new Float32Array(oh * ow * g.outChannels);
  walk(g, (p, o, t, at) => {
    const c0 = Math.floor(o / og) * cg;
    let acc = out[p * g.outChannels + o];
    for (let c = 0; c < cg; c++) {
      const v = at < 0 ? 0 : x[at * g.inChannels + c0 + c];
      acc = f(acc + f(v * w[(o * cg + c) * taps + t]));
    }
    out[p * g.outChannels + o] = acc;
  });
  return out;
}

/**
 * Twin of the integer DSConv kernels (dsconv_igemm_*, either dot product): BFP of the input as
 * bfpReference gives it, then per output, taps in order, then blocks in order: the exact integer
 * dot Σ q·M of the block, and acc = fround(acc + fround(fround(fround(dot) · ξ) · 2^(E-m+2))); a
 * padded tap has M = 0 and scale 0. Input NHWC, q OIHW, scales as quantizeWeights gives them;
 * returns [pixels][outChannels], before bias and activation.
 */
export function dsconvIgemmTwin(x: Float32Array, q: Int8Array, scales: Float32Array, mode: BlockMode,
  blockSize: number, mantissaBits: number, g: TwinGeometry): Float32Array {
  const [oh, ow] = outSize(g);
  const cg = g.inChannels / g.groups;
  const og = g.outChannels / g.groups;
  const taps = g.kh * g.kw;
  const B = mode === 'taps' ? 1 : Math.min(blockSize, cg);
  const nB = Math.ceil(cg / B);
  const bfp = bfpReference(x, g.height * g.width, g.inChannels, g.groups, B, mantissaBits);
  const slots = g.groups * nB;
  const out = new Float32Array(oh * ow * g.outChannels);
  walk(g, (p, o, t, at) => {
    const grp = Math.floor(o / og);
    let acc = out[p * g.outChannels + o];
    for (let b = 0; b < nB; b++) {
      let dot = 0;
      let s = 0;
      if (at >= 0) {
        for (let c = b * B; c < Math.min((b + 1) * B, cg); c++) dot += q[(o * cg + c) * taps + t] * bfp.mant[at * g.inChannels + grp * cg + c];
        s = bfp.scales[at * slots + grp * nB + b];
      }
      const xi = mode === 'taps' ? scales[o] : scales[(o * nB + b) * taps + t];
      acc = f(acc + f(f(f(dot) * xi) * s));
    }
    out[p * g.outChannels + o] = acc;
  });
  return out;
}

/** What bfp_dequant and bfp_dequant_c1 write: each value as M · 2^(E-m+2), float32 (exact). */
export function bfpDequantTwin(x: Float32Array, pixels: number, channels: number, groups: number, blockSize: number, mantissaBits: number): Float32Array {
  const cg = channels / groups;
  const B = Math.min(blockSize, cg);
  const nB = Math.ceil(cg / B);
  const bfp = bfpReference(x, pixels, channels, groups, B, mantissaBits);
  const out = new Float32Array(x.length);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < channels; c++) {
      const slot = (p * groups + Math.floor(c / cg)) * nB + Math.floor((c % cg) / B);
      out[p * channels + c] = bfp.mant[p * channels + c] * bfp.scales[slot];
    }
  }
  return out;
}

/** What dsconv_dequant_4x8 and dsconv_dequant_dw form: ξ·q per weight, float32, OIHW. */
export function dequantWeightsTwin(q: Int8Array, scales: Float32Array, mode: BlockMode, blockSize: number,
  outChannels: number, groupChannels: number, taps: number): Float32Array {
  const B = Math.min(blockSize, groupChannels);
  const nB = Math.ceil(groupChannels / B);
  const w = new Float32Array(q.length);
  for (let o = 0; o < outChannels; o++) {
    for (let c = 0; c < groupChannels; c++) {
      for (let t = 0; t < taps; t++) {
        const xi = mode === 'taps' ? scales[o] : scales[(o * nB + Math.floor(c / B)) * taps + t];
        w[(o * groupChannels + c) * taps + t] = f(q[(o * groupChannels + c) * taps + t] * xi);
      }
    }
  }
  return w;
}
