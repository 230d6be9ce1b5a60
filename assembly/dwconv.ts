// Depthwise kernels (one input channel per output channel): channels are the SIMD lanes.
// Input: NHWC float32 with channel stride padded to a multiple of 4 (`channels` is that padded
// count), pixel `idx` at inp + 4 * idx * inStride; -1 reads `zero`. Output: out + 4 * (pixel *
// outStride + c). Both kernels accumulate taps in the same order.

// @ts-ignore: decorator
@inline function dwTiles<W>(
  indir: usize, npix: i32, taps: i32, inp: usize, inStride: i32, zero: usize,
  channels: i32, w: usize, xi: usize, xiTapStride: i32, out: usize, outStride: i32,
): void {
  const quantized = isInteger<W>();
  const iStride = <usize>inStride * 4;
  const cBytes = <usize>channels * 4;
  for (let p = 0; p < npix; p++) {
    const ind = indir + <usize>(p * taps) * 4;
    const o = out + <usize>(p * outStride) * 4;
    for (let c: usize = 0; c < cBytes; c += 16) {
      let acc = f32x4.splat(0);
      for (let t = 0; t < taps; t++) {
        const i = load<i32>(ind + <usize>t * 4);
        const x = v128.load(select<usize>(inp + <usize>i * iStride, zero, i >= 0) + c);
        let wv: v128;
        if (quantized) {
          // q[t][c] int8 times ξ: the dequantized weight, formed here so no float copy is kept.
          const q = i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(w + <usize>t * (cBytes >> 2) + (c >> 2))));
          wv = f32x4.mul(f32x4.convert_i32x4_s(q), v128.load(xi + <usize>(t * xiTapStride) * 4 + c));
        } else {
          wv = v128.load(w + <usize>t * cBytes + c);
        }
        acc = f32x4.add(acc, f32x4.mul(x, wv));
      }
      v128.store(o + c, acc);
    }
  }
}

/** Float depthwise conv; weights float32 [tap][channels]. */
export function dwconv_1x4_f32(
  indir: usize, npix: i32, taps: i32, inp: usize, inStride: i32, zero: usize,
  channels: i32, w: usize, out: usize, outStride: i32,
): void {
  dwTiles<f32>(indir, npix, taps, inp, inStride, zero, channels, w, 0, 0, out, outStride);
}

/**
 * DSConv depthwise conv on BFP-dequantized activations (blocks of one channel, see
 * bfp_dequant_c1): weights int8 q[tap][channels], scales ξ at xi + 4 * (tap * xiTapStride + c)
 * (xiTapStride 0 when one scale covers all taps of a channel).
 */
export function dsconv_dw_1x4_q8(
  indir: usize, npix: i32, taps: i32, inp: usize, inStride: i32, zero: usize,
  channels: i32, q: usize, xi: usize, xiTapStride: i32, out: usize, outStride: i32,
): void {
  dwTiles<i8>(indir, npix, taps, inp, inStride, zero, channels, q, xi, xiTapStride, out, outStride);
}
