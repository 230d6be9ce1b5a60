// DSConv integer kernels on the relaxed-SIMD dot product (relaxed build only): 4 output pixels
// x 8 output channels, four channels per step ("c4"); the loop is templates/dsconv_igemm_4x8.ts.
// i32x4.relaxed_dot_i8x16_i7x16_add_s multiplies int8 mantissas by 7-bit unsigned weights and adds
// four products per lane into the int32 sums: one instruction per 16 MACs where the engine lowers
// it to VNNI.
//
// Its second operand must stay in [0, 127] to be exact everywhere, so weights are stored offset:
// q + z with z = 8 (bits <= 4) or 64 (bits 5..7). The offset adds z * ΣM to each block sum, and
// each block's sums start at -z * ΣM (which bfp_quantize_i8 writes beside each block's
// scale), so the block sums are the same exact integers as the portable kernels', rescaled by the
// same code.
//
// Activations: int8 mantissas of block β at input + idx * inputStride + β * paddedLen; records
// (f32 scale, i32 -z * ΣM) at scale + 8 * (idx * scaleStride + β).
// Weights, per tile of 8 outputs, per tap, per block, per channel quad:
//   q7: 32 bytes, output k's four channels at bytes 4k..4k+3 (k < 4), 16 + 4(k-4).. (k >= 4);
//   q4: 16 bytes, byte 4(k % 4) + c holding output k in its low nibble (k < 4) or high nibble,
//       widened per tile to the q7 layout in `wide` (taps * nBlocks * paddedLen * 8 bytes).
import { dsconvTiles } from '../templates/dsconv_igemm_4x8';

/** Offset int8 weights (bits 5..7, z = 64). `params`: a ConvParam record. */
export function dsconv_igemm_4x8c4_rdot_q7(params: usize): void {
  dsconvTiles<i8, i8>(params);
}

/** Offset nibble weights (bits 2..4, z = 8). `params`: a ConvParam record. */
export function dsconv_igemm_4x8c4_rdot_q4(params: usize): void {
  dsconvTiles<u8, i8>(params);
}
