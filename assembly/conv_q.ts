// DSConv integer kernels: a tile of 4 output pixels x 8 output channels, inputs gathered through
// an indirection buffer (one input-pixel index per output pixel and tap; -1 reads the zero pixel).
// Per (tap, block) the exact int32 dot products over the block's channels are formed with
// i32x4.dot_i16x8_s on channel pairs ("c2"), then rescaled once by ξ[o][β][tap] · 2^(E-m+2) and
// added to float32 accumulators.
//
// Activations: int16 mantissas, block β of a pixel at mant + 2 * (idx * mantStride + β * paddedLen),
// scale 2^(E-m+2) at scale + 4 * (idx * scaleStride + β).
// Weights, per tile of 8 outputs, per tap, per block, paddedLen/2 channel pairs of 16 values
// (output k's pair at bytes 2k, 2k+1 of the 8 low-half / 8 high-half outputs, see the host packer):
//   q8: one int8 per weight, 16 bytes a channel pair;
//   q4: 16 bytes per two channel pairs, low nibbles the first pair, high nibbles the second,
//       each stored as w + 8 (0..15).
// ξ: per tile, per tap, per block, 8 float32.
// Output: float32 at out + 4 * (pixel * outStride + tile * 8 + k), before bias and activation.

// @ts-ignore: decorator
@inline function dsconvTiles<W>(
  indir: usize, npix: i32, taps: i32,
  mant: usize, mantStride: i32, scale: usize, scaleStride: i32, zeroMant: usize, zeroScale: usize,
  nBlocks: i32, paddedLen: i32, w: usize, xi: usize, nTiles: i32, out: usize, outStride: i32,
): void {
  const q8 = isSigned<W>();
  const blockBytes = q8 ? paddedLen * 8 : paddedLen * 4;
  const mStride = <usize>mantStride * 2;
  const sStride = <usize>scaleStride * 4;
  const blockStep = <usize>paddedLen * 2;
  for (let tile = 0; tile < nTiles; tile++) {
    const wTile = w + <usize>(tile * taps * nBlocks * blockBytes);
    const xTile = xi + <usize>(tile * taps * nBlocks * 32);
    for (let p = 0; p < npix; p += 4) {
      let f0l = f32x4.splat(0), f0h = f32x4.splat(0), f1l = f32x4.splat(0), f1h = f32x4.splat(0);
      let f2l = f32x4.splat(0), f2h = f32x4.splat(0), f3l = f32x4.splat(0), f3h = f32x4.splat(0);
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
          for (let c: usize = 0; c < blockStep; c += q8 ? 4 : 8) {
            const wv = v128.load(wp);
            wp += 16;
            let wl: v128, wh: v128, v: v128;
            if (q8) {
              wl = i16x8.extend_low_i8x16_s(wv);
              wh = i16x8.extend_high_i8x16_s(wv);
            } else {
              const lo = i8x16.sub(v128.and(wv, i8x16.splat(15)), i8x16.splat(8));
              wl = i16x8.extend_low_i8x16_s(lo);
              wh = i16x8.extend_high_i8x16_s(lo);
            }
            v = v128.load32_splat(m0 + c);
            a0l = i32x4.add(a0l, i32x4.dot_i16x8_s(v, wl)); a0h = i32x4.add(a0h, i32x4.dot_i16x8_s(v, wh));
            v = v128.load32_splat(m1 + c);
            a1l = i32x4.add(a1l, i32x4.dot_i16x8_s(v, wl)); a1h = i32x4.add(a1h, i32x4.dot_i16x8_s(v, wh));
            v = v128.load32_splat(m2 + c);
            a2l = i32x4.add(a2l, i32x4.dot_i16x8_s(v, wl)); a2h = i32x4.add(a2h, i32x4.dot_i16x8_s(v, wh));
            v = v128.load32_splat(m3 + c);
            a3l = i32x4.add(a3l, i32x4.dot_i16x8_s(v, wl)); a3h = i32x4.add(a3h, i32x4.dot_i16x8_s(v, wh));
            if (!q8) {
              const hi = i8x16.sub(i8x16.shr_u(wv, 4), i8x16.splat(8));
              wl = i16x8.extend_low_i8x16_s(hi);
              wh = i16x8.extend_high_i8x16_s(hi);
              v = v128.load32_splat(m0 + c, 4);
              a0l = i32x4.add(a0l, i32x4.dot_i16x8_s(v, wl)); a0h = i32x4.add(a0h, i32x4.dot_i16x8_s(v, wh));
              v = v128.load32_splat(m1 + c, 4);
              a1l = i32x4.add(a1l, i32x4.dot_i16x8_s(v, wl)); a1h = i32x4.add(a1h, i32x4.dot_i16x8_s(v, wh));
              v = v128.load32_splat(m2 + c, 4);
              a2l = i32x4.add(a2l, i32x4.dot_i16x8_s(v, wl)); a2h = i32x4.add(a2h, i32x4.dot_i16x8_s(v, wh));
              v = v128.load32_splat(m3 + c, 4);
              a3l = i32x4.add(a3l, i32x4.dot_i16x8_s(v, wl)); a3h = i32x4.add(a3h, i32x4.dot_i16x8_s(v, wh));
            }
          }
          // One rescale per (pixel, tap, block): ξ (per output) times the pixel's block scale.
          const xl = v128.load(xp);
          const xh = v128.load(xp, 16);
          xp += 32;
          let sv = f32x4.splat(load<f32>(s0));
          f0l = f32x4.add(f0l, f32x4.mul(f32x4.convert_i32x4_s(a0l), f32x4.mul(xl, sv)));
          f0h = f32x4.add(f0h, f32x4.mul(f32x4.convert_i32x4_s(a0h), f32x4.mul(xh, sv)));
          sv = f32x4.splat(load<f32>(s1));
          f1l = f32x4.add(f1l, f32x4.mul(f32x4.convert_i32x4_s(a1l), f32x4.mul(xl, sv)));
          f1h = f32x4.add(f1h, f32x4.mul(f32x4.convert_i32x4_s(a1h), f32x4.mul(xh, sv)));
          sv = f32x4.splat(load<f32>(s2));
          f2l = f32x4.add(f2l, f32x4.mul(f32x4.convert_i32x4_s(a2l), f32x4.mul(xl, sv)));
          f2h = f32x4.add(f2h, f32x4.mul(f32x4.convert_i32x4_s(a2h), f32x4.mul(xh, sv)));
          sv = f32x4.splat(load<f32>(s3));
          f3l = f32x4.add(f3l, f32x4.mul(f32x4.convert_i32x4_s(a3l), f32x4.mul(xl, sv)));
          f3h = f32x4.add(f3h, f32x4.mul(f32x4.convert_i32x4_s(a3h), f32x4.mul(xh, sv)));
          m0 += blockStep; m1 += blockStep; m2 += blockStep; m3 += blockStep;
          s0 += 4; s1 += 4; s2 += 4; s3 += 4;
        }
      }
      const o = out + (<usize>(p * outStride) + <usize>tile * 8) * 4;
      const os = <usize>outStride * 4;
      v128.store(o, f0l); v128.store(o, f0h, 16);
      v128.store(o + os, f1l); v128.store(o + os, f1h, 16);
      v128.store(o + 2 * os, f2l); v128.store(o + 2 * os, f2h, 16);
      v128.store(o + 3 * os, f3l); v128.store(o + 3 * os, f3h, 16);
    }
  }
}

/** int8 weights (bits 5..8). `npix` must be a multiple of 4; see the file comment for layouts. */
export function dsconv_4x8c2_dot16_q8(
  indir: usize, npix: i32, taps: i32,
  mant: usize, mantStride: i32, scale: usize, scaleStride: i32, zeroMant: usize, zeroScale: usize,
  nBlocks: i32, paddedLen: i32, w: usize, xi: usize, nTiles: i32, out: usize, outStride: i32,
): void {
  dsconvTiles<i8>(indir, npix, taps, mant, mantStride, scale, scaleStride, zeroMant, zeroScale,
    nBlocks, paddedLen, w, xi, nTiles, out, outStride);
}

/** Packed int4 weights (bits 2..4); `paddedLen` must be a multiple of 4. */
export function dsconv_4x8c2_dot16_q4(
  indir: usize, npix: i32, taps: i32,
  mant: usize, mantStride: i32, scale: usize, scaleStride: i32, zeroMant: usize, zeroScale: usize,
  nBlocks: i32, paddedLen: i32, w: usize, xi: usize, nTiles: i32, out: usize, outStride: i32,
): void {
  dsconvTiles<u8>(indir, npix, taps, mant, mantStride, scale, scaleStride, zeroMant, zeroScale,
    nBlocks, paddedLen, w, xi, nTiles, out, outStride);
}
