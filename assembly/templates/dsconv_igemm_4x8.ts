// The tiled DSConv loop that every integer kernel instantiates (a template, not itself exported):
// a tile of 4 output pixels x 8 output channels, inputs gathered through an indirection buffer
// (one input-pixel index per output pixel and tap; -1 reads the zero pixel). Per (tap, block) the
// exact int32 dot products over the block's channels are formed, then rescaled once by
// ξ[o][β][tap] · 2^(E-m+2) and added to float32 sums kept in the output tile.
//
// Two dot products, chosen by the mantissa type M (see kernels/dsconv_igemm_4x8c2_dot16.ts and
// kernels/dsconv_igemm_4x8c4_rdot.ts):
//   M = i16: i32x4.dot_i16x8_s on channel pairs, int16 weights;
//   M = i8:  i32x4.relaxed_dot_i8x16_i7x16_add_s on channel quads, weights offset into [0, 127],
//            each block's sums starting from the -z * ΣM stored beside its scale.
// Either way one step reads 4 bytes of mantissas per pixel and 32 bytes of weights per 8 outputs.
// Weights rest packed (W = u8: nibbles; W = i8: bytes) and each tile is widened into `wide` once,
// before its pixels run, where the dot product needs it: widening in the inner loop would redo
// it for every four pixels (10-15%), and keeping weights widened would double their memory.

import { ConvParam, arg, argf, ptr } from '../params';
import { epilogue4 } from './epilogue';
import { lanes } from './lanes';

// Adds one block's int32 sums for 8 outputs of a pixel, times ξ (xl, xh), times the pixel's
// block scale s = 2^(E-m+2) (read from sp), into the float sums at o. s is applied last: it is a
// power of two, so only an underflow of the final term can round there, where ξ * s could lose
// bits first. Every kernel rescales through this one function, so all builds round identically.
// @ts-ignore: decorator
@inline function rescale(o: usize, al: v128, ah: v128, xl: v128, xh: v128, sp: usize): void {
  const sv = v128.load32_splat(sp);
  v128.store(o, f32x4.add(v128.load(o), f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(al), xl), sv)));
  v128.store(o, f32x4.add(v128.load(o, 16), f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(ah), xh), sv)), 16);
}

// Widens `n` 16-byte vectors at src into `wide`: int8 to int16 (one channel pair each), signed
// nibbles to int16 (two pairs each: nibble j of lane L is pair j >> 1, outputs 4 * (j & 1)..), or
// offset nibbles to bytes (one channel quad each: low nibbles outputs 0..3, high 4..7).
// @ts-ignore: decorator
@inline function widen<W, M>(src: usize, n: i32, dst: usize): void {
  for (let i = 0; i < n; i++) {
    const wv = v128.load(src + <usize>i * 16);
    if (sizeof<M>() == 2 && isSigned<W>()) {
      v128.store(dst + <usize>i * 32, i16x8.extend_low_i8x16_s(wv));
      v128.store(dst + <usize>i * 32, i16x8.extend_high_i8x16_s(wv), 16);
    } else if (sizeof<M>() == 2) {
      // Shifting the wanted nibble to the top and back down (arithmetic) sign-extends it.
      const d = dst + <usize>i * 64;
      v128.store(d, i16x8.shr_s(i16x8.shl(wv, 12), 12));
      v128.store(d, i16x8.shr_s(i16x8.shl(wv, 8), 12), 16);
      v128.store(d, i16x8.shr_s(i16x8.shl(wv, 4), 12), 32);
      v128.store(d, i16x8.shr_s(wv, 12), 48);
    } else {
      const low = lanes(0x0f0f0f0f); // 15 in every byte
      v128.store(dst + <usize>i * 32, v128.and(wv, low));
      v128.store(dst + <usize>i * 32, v128.and(i16x8.shr_u(wv, 4), low), 16);
    }
  }
}

/**
 * The kernel body, reading a ConvParam record. Activations: mantissas of type M, block β of a
 * pixel at input + sizeof<M> * (idx * inputStride + β * paddedLen), records at scale + r * (idx *
 * scaleStride + β) (r = 4: f32 scale; r = 8: f32 scale, i32 -z * ΣM). Weights per tile of 8
 * outputs, per tap, per block, in the layouts of the kernels' files. ξ: per tile, per tap, per
 * block, 8 float32. Output: float32 at output + 4 * (pixel * outputStride + tile * 8 + k), before
 * bias and activation, or with epiScale set after them (the epilogue fused). `npix` must be a
 * multiple of 4.
 */
// @ts-ignore: decorator
@inline export function dsconvTiles<W, M>(params: usize): void {
  const indir = ptr(params, ConvParam.indirection);
  const npix = arg(params, ConvParam.npix);
  const taps = arg(params, ConvParam.taps);
  const mant = ptr(params, ConvParam.input);
  const mantStride = arg(params, ConvParam.inputStride);
  const zeroMant = ptr(params, ConvParam.zeroInput);
  const scale = ptr(params, ConvParam.scale);
  const scaleStride = arg(params, ConvParam.scaleStride);
  const zeroScale = ptr(params, ConvParam.zeroScale);
  const nBlocks = arg(params, ConvParam.nBlocks);
  const paddedLen = arg(params, ConvParam.paddedLen);
  const w = ptr(params, ConvParam.weights);
  const xi = ptr(params, ConvParam.xi);
  const nTiles = arg(params, ConvParam.nTiles);
  const out = ptr(params, ConvParam.output);
  const outStride = arg(params, ConvParam.outputStride);
  const wide = ptr(params, ConvParam.wide);
  const epiScale = ptr(params, ConvParam.epiScale);
  const epiShift = ptr(params, ConvParam.epiShift);
  const vlo = f32x4.splat(argf(params, ConvParam.lo));
  const vhi = f32x4.splat(argf(params, ConvParam.hi));
  const relaxed = sizeof<M>() == 1;
  const record: usize = relaxed ? 8 : 4;
  const tileWeights = taps * nBlocks * paddedLen; // per output: the tile holds 8 times this
  const mStride = <usize>mantStride * sizeof<M>();
  const sStride = <usize>scaleStride * record;
  const blockStep = <usize>paddedLen * sizeof<M>();
  for (let tile = 0; tile < nTiles; tile++) {
    let wTile = wide;
    if (!isSigned<W>()) widen<W, M>(w + <usize>tile * <usize>tileWeights * 4, tileWeights >> 2, wide);
    else if (!relaxed) widen<W, M>(w + <usize>tile * <usize>tileWeights * 8, tileWeights >> 1, wide);
    else wTile = w + <usize>tile * <usize>tileWeights * 8;
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
          let a0l: v128, a1l: v128, a2l: v128, a3l: v128;
          if (relaxed) {
            a0l = v128.load32_splat(s0, 4); a1l = v128.load32_splat(s1, 4);
            a2l = v128.load32_splat(s2, 4); a3l = v128.load32_splat(s3, 4);
          } else {
            a0l = a1l = a2l = a3l = i32x4.splat(0);
          }
          let a0h = a0l, a1h = a1l, a2h = a2l, a3h = a3l;
          for (let c: usize = 0; c < blockStep; c += 4) {
            const wl = v128.load(wp);
            const wh = v128.load(wp, 16);
            wp += 32;
            let v = v128.load32_splat(m0 + c);
            if (relaxed) {
              a0l = i32x4.relaxed_dot_i8x16_i7x16_add_s(v, wl, a0l); a0h = i32x4.relaxed_dot_i8x16_i7x16_add_s(v, wh, a0h);
              v = v128.load32_splat(m1 + c);
              a1l = i32x4.relaxed_dot_i8x16_i7x16_add_s(v, wl, a1l); a1h = i32x4.relaxed_dot_i8x16_i7x16_add_s(v, wh, a1h);
              v = v128.load32_splat(m2 + c);
              a2l = i32x4.relaxed_dot_i8x16_i7x16_add_s(v, wl, a2l); a2h = i32x4.relaxed_dot_i8x16_i7x16_add_s(v, wh, a2h);
              v = v128.load32_splat(m3 + c);
              a3l = i32x4.relaxed_dot_i8x16_i7x16_add_s(v, wl, a3l); a3h = i32x4.relaxed_dot_i8x16_i7x16_add_s(v, wh, a3h);
            } else {
              a0l = i32x4.add(a0l, i32x4.dot_i16x8_s(v, wl)); a0h = i32x4.add(a0h, i32x4.dot_i16x8_s(v, wh));
              v = v128.load32_splat(m1 + c);
              a1l = i32x4.add(a1l, i32x4.dot_i16x8_s(v, wl)); a1h = i32x4.add(a1h, i32x4.dot_i16x8_s(v, wh));
              v = v128.load32_splat(m2 + c);
              a2l = i32x4.add(a2l, i32x4.dot_i16x8_s(v, wl)); a2h = i32x4.add(a2h, i32x4.dot_i16x8_s(v, wh));
              v = v128.load32_splat(m3 + c);
              a3l = i32x4.add(a3l, i32x4.dot_i16x8_s(v, wl)); a3h = i32x4.add(a3h, i32x4.dot_i16x8_s(v, wh));
            }
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
          s0 += record; s1 += record; s2 += record; s3 += record;
        }
      }
      // The output is the layer's own (NHWC): the epilogue on the tile while it is in L1.
      if (epiScale != 0) {
        const cs = epiScale + <usize>tile * 32;
        const ch = epiShift + <usize>tile * 32;
        for (let row = 0; row < 4; row++) {
          const r = o + <usize>row * os;
          v128.store(r, epilogue4(v128.load(r), v128.load(cs), v128.load(ch), vlo, vhi));
          v128.store(r, epilogue4(v128.load(r, 16), v128.load(cs, 16), v128.load(ch, 16), vlo, vhi), 16);
        }
      }
    }
  }
}
