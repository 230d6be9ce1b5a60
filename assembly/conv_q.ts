// DSConv integer kernels on i32x4.dot_i16x8_s (both builds): 4 output pixels x 8 output
// channels, channel pairs ("c2"); the loop is dsconvTiles in tile.ts.
//
// Activations: int16 mantissas (bfp_quantize_nhwc), block β of a pixel at
// mant + 2 * (idx * mantStride + β * paddedLen), scale 2^(E-m+2) at scale + 4 * (idx * scaleStride + β).
// Weights, per tile of 8 outputs, per tap, per block, paddedLen/2 channel pairs:
//   q8: int8, 16 bytes a channel pair, output k's pair at bytes 2k, 2k + 1;
//   q4: 16 bytes per two channel pairs, as eight int16 lanes of four two's-complement nibbles:
//       lane L = 2 * (k % 4) + channel-in-pair, nibble j = 2 * (second pair) + (k >= 4).
// Both are widened per tile to int16, 32 bytes a channel pair (outputs 0..3, then 4..7), in
// `wide` (taps * nBlocks * paddedLen * 16 bytes).
import { dsconvTiles } from './tile';

/** int8 weights (bits 5..8); `wide` is scratch for one tile widened. */
export function dsconv_4x8c2_dot16_q8(
  indir: usize, npix: i32, taps: i32,
  mant: usize, mantStride: i32, scale: usize, scaleStride: i32, zeroMant: usize, zeroScale: usize,
  nBlocks: i32, paddedLen: i32, w: usize, xi: usize, nTiles: i32, out: usize, outStride: i32, wide: usize,
): void {
  dsconvTiles<i8, i16>(indir, npix, taps, mant, mantStride, scale, scaleStride, zeroMant, zeroScale,
    nBlocks, paddedLen, w, xi, nTiles, out, outStride, wide);
}

/** Packed int4 weights (bits 2..4); `wide` is scratch for one tile widened. */
export function dsconv_4x8c2_dot16_q4(
  indir: usize, npix: i32, taps: i32,
  mant: usize, mantStride: i32, scale: usize, scaleStride: i32, zeroMant: usize, zeroScale: usize,
  nBlocks: i32, paddedLen: i32, w: usize, xi: usize, nTiles: i32, out: usize, outStride: i32, wide: usize,
): void {
  dsconvTiles<u8, i16>(indir, npix, taps, mant, mantStride, scale, scaleStride, zeroMant, zeroScale,
    nBlocks, paddedLen, w, xi, nTiles, out, outStride, wide);
}

/**
 * The dequantized weights ξ · q as float32 in conv_4x8_f32's layout, for one call of a layer
 * whose blocks are too short for the integer kernels: `units` (group, tile, tap) units, each of
 * `channels` rows of 8 int8 q at q + 8 * (unit * channels + c), with ξ per block of `blockLen`
 * rows at xi + 32 * (unit * nBlocks + c / blockLen). Formed per call into scratch, so no float
 * copy stays resident.
 */
export function dsconv_weights_f32(q: usize, xi: usize, units: i32, channels: i32, blockLen: i32, nBlocks: i32, dst: usize): void {
  for (let u = 0; u < units; u++) {
    for (let c = 0; c < channels; c++) {
      const row = <usize>(u * channels + c);
      const x = xi + <usize>(u * nBlocks + c / blockLen) * 32;
      const w = v128.load64_zero(q + row * 8);
      const lo = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(w)));
      const hi = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(i16x8.extend_low_i8x16_s(w)));
      v128.store(dst + row * 32, f32x4.mul(lo, v128.load(x)));
      v128.store(dst + row * 32, f32x4.mul(hi, v128.load(x, 16)), 16);
    }
  }
}
