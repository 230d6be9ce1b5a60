// Depthwise kernels (one input channel per output channel): channels are the SIMD lanes.
// Input: NHWC float32 with channel stride padded to a multiple of 4 (`channels` is that padded
// count), pixel `idx` at inp + 4 * idx * inStride; -1 reads `zero`. Output: out + 4 * (pixel *
// outStride + c).

/**
 * Float depthwise conv; weights float32 [tap][channels]. One pixel at a time, 16 channels (four
 * vectors) per pass over the taps, so each tap's index lookup serves four multiply-adds.
 */
export function dwconv_1x16_f32(
  indir: usize, npix: i32, taps: i32, inp: usize, inStride: i32, zero: usize,
  channels: i32, w: usize, out: usize, outStride: i32,
): void {
  const iStride = <usize>inStride * 4;
  const cBytes = <usize>channels * 4;
  const c16 = cBytes & ~63;
  for (let p = 0; p < npix; p++) {
    const ind = indir + <usize>(p * taps) * 4;
    const o = out + <usize>(p * outStride) * 4;
    let c: usize = 0;
    for (; c < c16; c += 64) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let wp = w + c;
      for (let t = 0; t < taps; t++) {
        const i = load<i32>(ind + <usize>t * 4);
        const x = select<usize>(inp + <usize>i * iStride, zero, i >= 0) + c;
        a0 = f32x4.add(a0, f32x4.mul(v128.load(x), v128.load(wp)));
        a1 = f32x4.add(a1, f32x4.mul(v128.load(x, 16), v128.load(wp, 16)));
        a2 = f32x4.add(a2, f32x4.mul(v128.load(x, 32), v128.load(wp, 32)));
        a3 = f32x4.add(a3, f32x4.mul(v128.load(x, 48), v128.load(wp, 48)));
        wp += cBytes;
      }
      v128.store(o + c, a0); v128.store(o + c, a1, 16); v128.store(o + c, a2, 32); v128.store(o + c, a3, 48);
    }
    for (; c < cBytes; c += 16) {
      let acc = f32x4.splat(0);
      for (let t = 0; t < taps; t++) {
        const i = load<i32>(ind + <usize>t * 4);
        const x = select<usize>(inp + <usize>i * iStride, zero, i >= 0) + c;
        acc = f32x4.add(acc, f32x4.mul(v128.load(x), v128.load(w + <usize>t * cBytes + c)));
      }
      v128.store(o + c, acc);
    }
  }
}

/**
 * The dequantized depthwise DSConv weights ξ · q as float32 [tap][channels], for one call:
 * q int8 [tap][channels], ξ at xi + 4 * (tap * xiTapStride + c) (xiTapStride 0 when one scale
 * covers all taps of a channel). Formed per call into scratch, so no float copy stays resident.
 */
export function dsconv_dw_weights(q: usize, xi: usize, xiTapStride: i32, taps: i32, channels: i32, dst: usize): void {
  for (let t = 0; t < taps; t++) {
    for (let c = 0; c < channels; c += 4) {
      const v = i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(q + <usize>(t * channels + c))));
      const x = v128.load(xi + <usize>(t * xiTapStride + c) * 4);
      v128.store(dst + <usize>(t * channels + c) * 4, f32x4.mul(f32x4.convert_i32x4_s(v), x));
    }
  }
}
