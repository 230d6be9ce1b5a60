// Dequantized DSConv weights ξ · q as float32, formed per call into scratch for the layers that
// run a float kernel on exactly dequantized values (so no float copy of the weights stays
// resident): blocks of at most 4 channels (f32_igemm_4x8's layout) and depthwise layers
// (f32_dwconv_1x16's layout).

/**
 * For f32_igemm_4x8: `units` (group, tile, tap) units, each of `channels` rows of 8 int8 q at
 * q + 8 * (unit * channels + c), with ξ per block of `blockLen` rows at
 * xi + 32 * (unit * nBlocks + c / blockLen).
 */
export function dsconv_dequant_4x8(q: usize, xi: usize, units: i32, channels: i32, blockLen: i32, nBlocks: i32, dst: usize): void {
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

/**
 * For f32_dwconv_1x16, as [tap][channels]: q int8 [tap][channels], ξ at
 * xi + 4 * (tap * xiTapStride + c) (xiTapStride 0 when one scale covers all taps of a channel).
 */
export function dsconv_dequant_dw(q: usize, xi: usize, xiTapStride: i32, taps: i32, channels: i32, dst: usize): void {
  for (let t = 0; t < taps; t++) {
    for (let c = 0; c < channels; c += 4) {
      const v = i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(q + <usize>(t * channels + c))));
      const x = v128.load(xi + <usize>(t * xiTapStride + c) * 4);
      v128.store(dst + <usize>(t * channels + c) * 4, f32x4.mul(f32x4.convert_i32x4_s(v), x));
    }
  }
}
