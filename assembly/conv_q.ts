// DSConv integer kernels: a tile of 4 output pixels x 8 output channels, inputs gathered through
// an indirection buffer (one input-pixel index per output pixel and tap; -1 reads the zero pixel).
// Per (tap, block) the exact int32 dot products over the block's channels are formed with
// i32x4.dot_i16x8_s on channel pairs ("c2"), then rescaled once by ξ[o][β][tap] · 2^(E-m+2) and
// added to float32 accumulators.
//
// Activations: int16 mantissas, block β of a pixel at mant + 2 * (idx * mantStride + β * paddedLen),
// scale 2^(E-m+2) at scale + 4 * (idx * scaleStride + β).
// Weights, per tile of 8 outputs, per tap, per block, paddedLen/2 channel pairs of 16 values
// (output k's pair in int16 lanes 2k, 2k+1 of the low-half / high-half outputs, see the host packer):
//   q8: int8 per weight, 16 bytes a channel pair (output k's pair at bytes 2k, 2k + 1);
//   q4: 16 bytes per two channel pairs, as eight int16 lanes of four two's-complement nibbles:
//       lane L = 2 * (k % 4) + channel-in-pair, nibble j = 2 * (second pair) + (k >= 4).
// Each tile is widened to int16 (32 bytes a channel pair) once, into `wide` (taps * nBlocks *
// paddedLen * 16 bytes), before its pixels run: widening in the inner loop would redo it for
// every four pixels and cost 10-15%, and keeping the weights widened would double their memory.
// ξ: per tile, per tap, per block, 8 float32.
// Output: float32 at out + 4 * (pixel * outStride + tile * 8 + k), before bias and activation.

import { rescale } from './tile';

// Widens `pairs` 16-byte vectors of int8 (one channel pair each) at src to int16 at dst.
// @ts-ignore: decorator
@inline function widenBytes(src: usize, pairs: i32, dst: usize): void {
  for (let i = 0; i < pairs; i++) {
    const wv = v128.load(src + <usize>i * 16);
    v128.store(dst + <usize>i * 32, i16x8.extend_low_i8x16_s(wv));
    v128.store(dst + <usize>i * 32, i16x8.extend_high_i8x16_s(wv), 16);
  }
}

// Widens `pairs2` 16-byte vectors of nibbles (two channel pairs each) at src to int16 at dst.
// @ts-ignore: decorator
@inline function widenNibbles(src: usize, pairs2: i32, dst: usize): void {
  for (let i = 0; i < pairs2; i++) {
    const wv = v128.load(src + <usize>i * 16);
    const d = dst + <usize>i * 64;
    // Shifting the wanted nibble to the top and back down (arithmetic) sign-extends it.
    v128.store(d, i16x8.shr_s(i16x8.shl(wv, 12), 12));
    v128.store(d, i16x8.shr_s(i16x8.shl(wv, 8), 12), 16);
    v128.store(d, i16x8.shr_s(i16x8.shl(wv, 4), 12), 32);
    v128.store(d, i16x8.shr_s(wv, 12), 48);
  }
}

// @ts-ignore: decorator
@inline function dsconvTiles<W>(
  indir: usize, npix: i32, taps: i32,
  mant: usize, mantStride: i32, scale: usize, scaleStride: i32, zeroMant: usize, zeroScale: usize,
  nBlocks: i32, paddedLen: i32, w: usize, xi: usize, nTiles: i32, out: usize, outStride: i32, wide: usize,
): void {
  const q8 = isSigned<W>();
  const tileWeights = taps * nBlocks * paddedLen; // per output: the tile holds 8 times this
  const mStride = <usize>mantStride * 2;
  const sStride = <usize>scaleStride * 4;
  const blockStep = <usize>paddedLen * 2;
  for (let tile = 0; tile < nTiles; tile++) {
    if (q8) widenBytes(w + <usize>tile * <usize>tileWeights * 8, tileWeights >> 1, wide);
    else widenNibbles(w + <usize>tile * <usize>tileWeights * 4, tileWeights >> 2, wide);
    const wTile = wide;
    const xTile = xi + <usize>(tile * taps * nBlocks * 32);
    for (let p = 0; p < npix; p += 4) {
      // The float sums live in the output tile (L1): kept in registers they would be spilled
      // inside the integer loop, which already needs 11 of the 16 vector registers.
      const o = out + (<usize>(p * outStride) + <usize>tile * 8) * 4;
      const os = <usize>outStride * 4;
      const zf = f32x4.splat(0);
      v128.store(o, zf); v128.store(o, zf, 16);
      v128.store(o + os, zf); v128.store(o + os, zf, 16);
      v128.store(o + 2 * os, zf); v128.store(o + 2 * os, zf, 16);
      v128.store(o + 3 * os, zf); v128.store(o + 3 * os, zf, 16);
      const ind = indir + <usize>(p * taps) * 4;
      let wp = wTile;
      let xp = xTile;
      for (let t = 0; t < taps; t++) {
        const i0 = load<i32>(ind + <usize>t * 4);
        const i1 = load<i32>(ind + <usize>(taps + t) * 4);
        const i2 = load<i32>(ind + <usize>(2 * taps + t) * 4);
        const i3 = load<i32>(ind + <usize>(3 * taps + t) * 4);
        let m0 = select<usize>(mant + <usize>i0 * mStride, zeroMant, i0 >= 0);
        let m1 = select<usize>(mant + <usize>i1 * mStride, zeroMant, i1 >= 0);
        let m2 = select<usize>(mant + <usize>i2 * mStride, zeroMant, i2 >= 0);
        let m3 = select<usize>(mant + <usize>i3 * mStride, zeroMant, i3 >= 0);
        let s0 = select<usize>(scale + <usize>i0 * sStride, zeroScale, i0 >= 0);
        let s1 = select<usize>(scale + <usize>i1 * sStride, zeroScale, i1 >= 0);
        let s2 = select<usize>(scale + <usize>i2 * sStride, zeroScale, i2 >= 0);
        let s3 = select<usize>(scale + <usize>i3 * sStride, zeroScale, i3 >= 0);
        for (let b = 0; b < nBlocks; b++) {
          let a0l = i32x4.splat(0), a0h = i32x4.splat(0), a1l = i32x4.splat(0), a1h = i32x4.splat(0);
          let a2l = i32x4.splat(0), a2h = i32x4.splat(0), a3l = i32x4.splat(0), a3h = i32x4.splat(0);
          for (let c: usize = 0; c < blockStep; c += 4) {
            const wl = v128.load(wp);
            const wh = v128.load(wp, 16);
            wp += 32;
            let v = v128.load32_splat(m0 + c);
            a0l = i32x4.add(a0l, i32x4.dot_i16x8_s(v, wl)); a0h = i32x4.add(a0h, i32x4.dot_i16x8_s(v, wh));
            v = v128.load32_splat(m1 + c);
            a1l = i32x4.add(a1l, i32x4.dot_i16x8_s(v, wl)); a1h = i32x4.add(a1h, i32x4.dot_i16x8_s(v, wh));
            v = v128.load32_splat(m2 + c);
            a2l = i32x4.add(a2l, i32x4.dot_i16x8_s(v, wl)); a2h = i32x4.add(a2h, i32x4.dot_i16x8_s(v, wh));
            v = v128.load32_splat(m3 + c);
            a3l = i32x4.add(a3l, i32x4.dot_i16x8_s(v, wl)); a3h = i32x4.add(a3h, i32x4.dot_i16x8_s(v, wh));
          }
          // One rescale per (pixel, tap, block): ξ (per output) times the pixel's block scale.
          const xl = v128.load(xp);
          const xh = v128.load(xp, 16);
          xp += 32;
          rescale(o, a0l, a0h, xl, xh, s0);
          rescale(o + os, a1l, a1h, xl, xh, s1);
          rescale(o + 2 * os, a2l, a2h, xl, xh, s2);
          rescale(o + 3 * os, a3l, a3h, xl, xh, s3);
          m0 += blockStep; m1 += blockStep; m2 += blockStep; m3 += blockStep;
          s0 += 4; s1 += 4; s2 += 4; s3 += 4;
        }
      }
    }
  }
}

/** int8 weights (bits 5..8); `wide` is scratch for one tile widened (see above). */
export function dsconv_4x8c2_dot16_q8(
  indir: usize, npix: i32, taps: i32,
  mant: usize, mantStride: i32, scale: usize, scaleStride: i32, zeroMant: usize, zeroScale: usize,
  nBlocks: i32, paddedLen: i32, w: usize, xi: usize, nTiles: i32, out: usize, outStride: i32, wide: usize,
): void {
  dsconvTiles<i8>(indir, npix, taps, mant, mantStride, scale, scaleStride, zeroMant, zeroScale,
    nBlocks, paddedLen, w, xi, nTiles, out, outStride, wide);
}

/** Packed int4 weights (bits 2..4); `wide` is scratch for one tile widened (see above). */
export function dsconv_4x8c2_dot16_q4(
  indir: usize, npix: i32, taps: i32,
  mant: usize, mantStride: i32, scale: usize, scaleStride: i32, zeroMant: usize, zeroScale: usize,
  nBlocks: i32, paddedLen: i32, w: usize, xi: usize, nTiles: i32, out: usize, outStride: i32, wide: usize,
): void {
  dsconvTiles<u8>(indir, npix, taps, mant, mantStride, scale, scaleStride, zeroMant, zeroScale,
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
