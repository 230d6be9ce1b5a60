// BFP on the host's side for tools that need the activations a DSConv layer sees (calibration):
// the wasm pass itself (bfp_dequant), so there is one implementation of the arithmetic.
import { BfpParam } from './abi.js';
import { rt } from './runtime.js';
import { bfpRecord } from './records.js';
import { checkFinite, float32Array, int } from './validate.js';
import { QUANT_RANGES } from './options.js';

/**
 * Each value of an NHWC float32 tensor (`pixels` x `channels`) replaced by its dequantized BFP
 * value M · 2^(E-m+2) (docs/ARITHMETIC.md, "Activations"), blocks of `blockSize` channels inside
 * each of `groups` groups: exactly what a DSConv layer's integer path computes with. A NaN or ±Inf is a
 * RangeError naming it.
 */
export function bfpDequantize(x: Float32Array, pixels: number, channels: number, groups: number, blockSize: number, mantissaBits: number): Float32Array {
  int('mantissaBits', mantissaBits, QUANT_RANGES.mantissaBits[0], QUANT_RANGES.mantissaBits[1]);
  const r = rt();
  const cg = channels / groups;
  const blockLen = Math.min(blockSize, cg);
  // Sized from the shape, as forward() sizes its copies: not from x's own (overridable) getters.
  const n = pixels * channels;
  float32Array('x', x, n, `NHWC [${pixels}][${channels}]`);
  const src = r.scratch.input.ensure(n * 4);
  const dst = r.scratch.image.ensure(n * 4);
  r.f32(src, n).set(x);
  const q = bfpRecord(r.params(BfpParam.count), src, pixels, channels, groups, cg, blockLen, Math.ceil(cg / blockLen), mantissaBits);
  q[BfpParam.dst] = dst; q[BfpParam.dstStride] = channels;
  const bad = r.k.bfp_dequant(r.paramsPtr);
  if (bad) checkFinite('input', x, r.k.f32_find_nonfinite(src, n));
  return r.f32(dst, n).slice();
}
