// The BFP passes of the integer kernels: float32 NHWC activations -> integer mantissas and one
// record per (pixel, group, block); the loop is bfpBlocks in templates/bfp.ts.
import { bfpBlocks } from '../templates/bfp';

/**
 * Quantizes `pixels` pixels of an NHWC float32 tensor (pixel stride `srcStride` floats) to BFP.
 * Channels form `groups` groups of `groupChannels`; each group is cut into `nBlocks` blocks of
 * `blockLen` channels (the last may be short). Block (p, g, β) writes `paddedLen` int16 mantissas
 * at dst + 2 * (p * dstStride + (g * nBlocks + β) * paddedLen), zero beyond the block's length,
 * and its scale 2^(E-m+2) (0 for an all-zero block) at scale + 4 * (p * groups * nBlocks + g *
 * nBlocks + β). Returns whether any block held a NaN or ±Inf (its output is then meaningless):
 * the host's check of the input, folded into this pass. `params`: a BfpParam record (sumScale
 * unused).
 */
export function bfp_quantize_i16(params: usize): bool {
  return bfpBlocks<i16>(params);
}

/**
 * As bfp_quantize_i16, with int8 mantissas at dst + p * dstStride + slot * paddedLen and 8-byte
 * records at scale + 8 * (p * groups * nBlocks + slot): the f32 scale, then sumScale times the sum
 * of the block's mantissas (i32).
 */
export function bfp_quantize_i8(params: usize): bool {
  return bfpBlocks<i8>(params);
}
