// DSConv integer kernels on the relaxed-SIMD dot product (relaxed build only): a tile of 4 output
// pixels x 8 output channels, four channels per step ("c4"): i32x4.relaxed_dot_i8x16_i7x16_add_s
// multiplies int8 mantissas by 7-bit unsigned weights and adds four products per lane into the
// int32 sums, one instruction per 16 MACs where the engine lowers it to VNNI.
//
// Its second operand must stay in [0, 127] to be exact everywhere, so weights are stored offset:
// q + z with z = 8 (bits <= 4) or 64 (bits 5..7). The offset adds z * ΣM to each block sum, and
// each block's sums start at -z * ΣM (which bfp_quantize_nhwc_i8 writes beside each block's
// scale), so the block sums are the same exact integers as the portable kernels', rescaled by the
// same code.
//
// Activations: int8 mantissas of block β at mant + idx * mantStride + β * paddedLen; records
// (f32 scale, i32 -z * ΣM) at scale + 8 * (idx * scaleStride + β).
// Weights, per tile of 8 outputs, per tap, per block, per channel quad:
//   q7: 32 bytes, output k's four channels at bytes 4k..4k+3 (k < 4), 16 + 4(k-4).. (k >= 4);
//   q4: 16 bytes, byte 4(k % 4) + c holding output k in its low nibble (k < 4) or high nibble;
//       each tile is widened to the q7 layout once, into `wide` (taps * nBlocks * paddedLen * 8
//       bytes), before its pixels run, rather than for every four pixels in the inner loop.
// ξ and output: as the portable kernels (conv_q.ts).
import { rescale } from './tile';

// Widens `quads` 16-byte vectors of offset nibbles at src to the q7 layout (32 bytes each) at dst.
// @ts-ignore: decorator
@inline function widenNibbles(src: usize, quads: i32, dst: usize): void {
  const low = i8x16.splat(15);
  for (let i = 0; i < quads; i++) {
    const wv = v128.load(src + <usize>i * 16);
    v128.store(dst + <usize>i * 32, v128.and(wv, low));
    v128.store(dst + <usize>i * 32, v128.and(i16x8.shr_u(wv, 4), low), 16);
  }
}

// @ts-ignore: decorator
@inline function rdotTiles<W>(
  indir: usize, npix: i32, taps: i32,
  mant: usize, mantStride: i32, scale: usize, scaleStride: i32, zeroMant: usize, zeroScale: usize,
  nBlocks: i32, paddedLen: i32, w: usize, xi: usize, nTiles: i32, out: usize, outStride: i32, wide: usize,
): void {
  const q4 = !isSigned<W>();
  const tileWeights = taps * nBlocks * paddedLen; // per output: the tile holds 8 times this
  const mStride = <usize>mantStride;
  const sStride = <usize>scaleStride * 8;
  const blockStep = <usize>paddedLen;
  for (let tile = 0; tile < nTiles; tile++) {
    let wTile: usize;
    if (q4) {
      widenNibbles(w + <usize>tile * <usize>tileWeights * 4, tileWeights >> 2, wide);
      wTile = wide;
    } else {
      wTile = w + <usize>tile * <usize>tileWeights * 8;
    }
    const xTile = xi + <usize>(tile * taps * nBlocks * 32);
    for (let p = 0; p < npix; p += 4) {
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
          let a0l = v128.load32_splat(s0, 4), a0h = a0l;
          let a1l = v128.load32_splat(s1, 4), a1h = a1l;
          let a2l = v128.load32_splat(s2, 4), a2h = a2l;
          let a3l = v128.load32_splat(s3, 4), a3h = a3l;
          for (let c: usize = 0; c < blockStep; c += 4) {
            const wl = v128.load(wp);
            const wh = v128.load(wp, 16);
            wp += 32;
            let v = v128.load32_splat(m0 + c);
            a0l = i32x4.relaxed_dot_i8x16_i7x16_add_s(v, wl, a0l); a0h = i32x4.relaxed_dot_i8x16_i7x16_add_s(v, wh, a0h);
            v = v128.load32_splat(m1 + c);
            a1l = i32x4.relaxed_dot_i8x16_i7x16_add_s(v, wl, a1l); a1h = i32x4.relaxed_dot_i8x16_i7x16_add_s(v, wh, a1h);
            v = v128.load32_splat(m2 + c);
            a2l = i32x4.relaxed_dot_i8x16_i7x16_add_s(v, wl, a2l); a2h = i32x4.relaxed_dot_i8x16_i7x16_add_s(v, wh, a2h);
            v = v128.load32_splat(m3 + c);
            a3l = i32x4.relaxed_dot_i8x16_i7x16_add_s(v, wl, a3l); a3h = i32x4.relaxed_dot_i8x16_i7x16_add_s(v, wh, a3h);
          }
          const xl = v128.load(xp);
          const xh = v128.load(xp, 16);
          xp += 32;
          rescale(o, a0l, a0h, xl, xh, s0);
          rescale(o + os, a1l, a1h, xl, xh, s1);
          rescale(o + 2 * os, a2l, a2h, xl, xh, s2);
          rescale(o + 3 * os, a3l, a3h, xl, xh, s3);
          m0 += blockStep; m1 += blockStep; m2 += blockStep; m3 += blockStep;
          s0 += 8; s1 += 8; s2 += 8; s3 += 8;
        }
      }
    }
  }
}

/** Offset int8 weights (bits 5..7, z = 64). `npix` must be a multiple of 4. */
export function dsconv_4x8c4_rdot_q7(
  indir: usize, npix: i32, taps: i32,
  mant: usize, mantStride: i32, scale: usize, scaleStride: i32, zeroMant: usize, zeroScale: usize,
  nBlocks: i32, paddedLen: i32, w: usize, xi: usize, nTiles: i32, out: usize, outStride: i32, wide: usize,
): void {
  rdotTiles<i8>(indir, npix, taps, mant, mantStride, scale, scaleStride, zeroMant, zeroScale,
    nBlocks, paddedLen, w, xi, nTiles, out, outStride, wide);
}

/** Offset nibble weights (bits 2..4, z = 8); `wide` is scratch for one tile widened. */
export function dsconv_4x8c4_rdot_q4(
  indir: usize, npix: i32, taps: i32,
  mant: usize, mantStride: i32, scale: usize, scaleStride: i32, zeroMant: usize, zeroScale: usize,
  nBlocks: i32, paddedLen: i32, w: usize, xi: usize, nTiles: i32, out: usize, outStride: i32, wide: usize,
): void {
  rdotTiles<u8>(indir, npix, taps, mant, mantStride, scale, scaleStride, zeroMant, zeroScale,
    nBlocks, paddedLen, w, xi, nTiles, out, outStride, wide);
}
