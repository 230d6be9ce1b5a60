// DSConv integer kernels on i32x4.dot_i16x8_s (both builds): 4 output pixels x 8 output
// channels, channel pairs ("c2"); the loop is templates/dsconv_igemm_4x8.ts.
//
// Activations: int16 mantissas (bfp_quantize_i16), block β of a pixel at
// input + 2 * (idx * inputStride + β * paddedLen), scale 2^(E-m+2) at scale + 4 * (idx * scaleStride + β).
// Weights, per tile of 8 outputs, per tap, per block, paddedLen/2 channel pairs:
//   q8: int8, 16 bytes a channel pair, output k's pair at bytes 2k, 2k + 1;
//   q4: 16 bytes per two channel pairs, as eight int16 lanes of four two's-complement nibbles:
//       lane L = 2 * (k % 4) + channel-in-pair, nibble j = 2 * (second pair) + (k >= 4).
// Both are widened per tile to int16, 32 bytes a channel pair (outputs 0..3, then 4..7), in
// `wide` (taps * nBlocks * paddedLen * 16 bytes).
import { dsconvTiles } from '../templates/dsconv_igemm_4x8';

/** int8 weights (bits 5..8). `params`: a ConvParam record. */
export function dsconv_igemm_4x8c2_dot16_q8(params: usize): void {
  dsconvTiles<i8, i16>(params);
}

/** Packed int4 weights (bits 2..4). `params`: a ConvParam record. */
export function dsconv_igemm_4x8c2_dot16_q4(params: usize): void {
  dsconvTiles<u8, i16>(params);
}
