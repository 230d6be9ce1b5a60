// The dequantizing BFP passes, for the layers that run a float kernel on exactly dequantized
// activations (blocks of at most 4 channels, depthwise).
import { BfpParam, arg, ptr } from '../params';
import { ABS_MASK, EXP_MASK, HALF_FIELD, blockExponent, mant1, mant4, pow2f } from '../templates/bfp';
import { lanes } from '../templates/lanes';

/**
 * BFP and back: writes each value's dequantized BFP value M * 2^(E-m+2) as float32 (exact, also
 * where it is subnormal: a multiple of 2^(E-m+2) >= 2^-149) at the same channel position, pixel
 * stride `dstStride` floats. Blocks as in bfp_quantize_i16. For layers whose blocks are so short
 * that the float kernel on dequantized values beats the integer one. Returns whether any value
 * was NaN or ±Inf. `params`: a BfpParam record (paddedLen, scale, sumScale unused).
 */
export function bfp_dequant(params: usize): bool {
  const src = ptr(params, BfpParam.src);
  const pixels = arg(params, BfpParam.pixels);
  const srcStride = arg(params, BfpParam.srcStride);
  const groups = arg(params, BfpParam.groups);
  const groupChannels = arg(params, BfpParam.groupChannels);
  const blockLen = arg(params, BfpParam.blockLen);
  const nBlocks = arg(params, BfpParam.nBlocks);
  const mantissaBits = arg(params, BfpParam.mantissaBits);
  const dst = ptr(params, BfpParam.dst);
  const dstStride = arg(params, BfpParam.dstStride);
  let nonFinite = false;
  const maxMs = (1 << (mantissaBits - 1)) - 1;
  const maxM = i32x4.splat(maxMs);
  const vExp = lanes(EXP_MASK), vHalfField = lanes(HALF_FIELD), vAbs = lanes(ABS_MASK), vHalf = lanes(reinterpret<i32>(<f32>0.5));
  // Packed 3-channel pixels, one block each (an RGB stem): four pixels per step, the rest below.
  let p0 = 0;
  if (groups == 1 && nBlocks == 1 && groupChannels == 3 && blockLen >= 3 && srcStride == 3 && dstStride == 3) {
    p0 = pixels & ~3;
    nonFinite = dequantRgb(src, dst, p0, mantissaBits, maxM, vExp, vHalfField, vAbs, vHalf);
  }
  for (let p = p0; p < pixels; p++) {
    const row = src + <usize>(p * srcStride) * 4;
    const drow = dst + <usize>(p * dstStride) * 4;
    for (let g = 0; g < groups; g++) {
      for (let b = 0; b < nBlocks; b++) {
        const c0 = g * groupChannels + b * blockLen;
        const len = min(blockLen, groupChannels - b * blockLen);
        const vin = row + <usize>c0 * 4;
        const vout = drow + <usize>c0 * 4;
        if (len < 4) {
          nonFinite |= dequantShort(vin, vout, len, mantissaBits, maxM, vExp, vHalfField, vAbs, vHalf);
          continue;
        }
        const emax = blockExponent(vin, len, vExp);
        nonFinite |= emax == 255;
        if (emax == 0) {
          memory.fill(vout, 0, <usize>len * 4);
          continue;
        }
        const adjS = (mantissaBits + 125 - emax) << 23;
        const adj = i32x4.splat(adjS);
        const s = pow2f(emax - mantissaBits - 125);
        const sv = f32x4.splat(s);
        let c = 0;
        for (; c + 4 <= len; c += 4) {
          const m = mant4(v128.load(vin + <usize>c * 4), adj, maxM, vExp, vHalfField, vAbs, vHalf);
          v128.store(vout + <usize>c * 4, f32x4.mul(f32x4.convert_i32x4_s(m), sv));
        }
        for (; c < len; c++) store<f32>(vout + <usize>c * 4, <f32>mant1(load<i32>(vin + <usize>c * 4), adjS, maxMs) * s);
      }
    }
  }
  return nonFinite;
}

/**
 * `pixels` (a multiple of 4) packed pixels of 3 channels, each its own block, four at a time: the
 * 12 values of three vectors regrouped so that each vector holds one channel of the four pixels,
 * then each lane with its own pixel's exponent, as the per-block loop computes it (an all-zero
 * pixel gives +0), and regrouped back. Returns whether a value was NaN or ±Inf.
 */
function dequantRgb(src: usize, dst: usize, pixels: i32, mantissaBits: i32, maxM: v128,
  vExp: v128, vHalfField: v128, vAbs: v128, vHalf: v128): bool {
  const top = i32x4.splat(mantissaBits + 125);
  const v255 = lanes(255), v127 = lanes(127), v191 = lanes(191), vMinNormal = lanes(-126), v2m64 = lanes(63 << 23);
  let bad = i32x4.splat(0);
  for (let p = 0; p < pixels; p += 4) {
    const at = <usize>(p * 3) * 4;
    const a = v128.load(src + at), b = v128.load(src + at, 16), c = v128.load(src + at, 32);
    // Pixels: (a0 a1 a2) (a3 b0 b1) (b2 b3 c0) (c1 c2 c3).
    const c0 = v128.shuffle<i32>(v128.shuffle<i32>(a, b, 0, 3, 6, 6), c, 0, 1, 2, 5);
    const c1 = v128.shuffle<i32>(v128.shuffle<i32>(a, b, 1, 4, 7, 7), c, 0, 1, 2, 6);
    const c2 = v128.shuffle<i32>(v128.shuffle<i32>(a, b, 2, 5, 5, 5), c, 0, 1, 4, 7);
    const e = i32x4.shr_u(i32x4.max_u(i32x4.max_u(v128.and(c0, vExp), v128.and(c1, vExp)), v128.and(c2, vExp)), 23);
    bad = v128.or(bad, i32x4.eq(e, v255));
    const adj = i32x4.shl(i32x4.sub(top, e), 23);
    // 2^(e-m-125) per lane as pow2f makes it: normal when the exponent is >= -126, else a
    // subnormal power of two, formed exactly as 2^(x+64) * 2^-64.
    const x = i32x4.sub(e, top);
    const normal = i32x4.shl(i32x4.add(x, v127), 23);
    const sub = f32x4.mul(i32x4.shl(i32x4.add(x, v191), 23), v2m64);
    const s = v128.bitselect(normal, sub, i32x4.ge_s(x, vMinNormal));
    const d0 = f32x4.mul(f32x4.convert_i32x4_s(mant4(c0, adj, maxM, vExp, vHalfField, vAbs, vHalf)), s);
    const d1 = f32x4.mul(f32x4.convert_i32x4_s(mant4(c1, adj, maxM, vExp, vHalfField, vAbs, vHalf)), s);
    const d2 = f32x4.mul(f32x4.convert_i32x4_s(mant4(c2, adj, maxM, vExp, vHalfField, vAbs, vHalf)), s);
    v128.store(dst + at, v128.shuffle<i32>(v128.shuffle<i32>(d0, d1, 0, 4, 1, 5), d2, 0, 1, 4, 2));
    v128.store(dst + at, v128.shuffle<i32>(v128.shuffle<i32>(d1, d2, 1, 5, 2, 6), d0, 0, 1, 6, 2), 16);
    v128.store(dst + at, v128.shuffle<i32>(v128.shuffle<i32>(d2, d0, 2, 7, 3, 3), d1, 0, 1, 7, 2), 32);
  }
  return v128.any_true(bad);
}

/**
 * One block of 1..3 channels (an RGB stem's), in one vector: the values loaded into the low
 * lanes with zeros above (a zero's exponent field adds nothing to the block's and its mantissa is
 * 0), and only `len` lanes stored, so nothing past the block is read or written. The same values
 * as the general loop: an all-zero block gives M = 0, so +0 in every lane. Returns whether a value
 * was NaN or ±Inf.
 */
// @ts-ignore: decorator
@inline function dequantShort(vin: usize, vout: usize, len: i32, mantissaBits: i32, maxM: v128,
  vExp: v128, vHalfField: v128, vAbs: v128, vHalf: v128): bool {
  let v = len == 1 ? v128.load32_zero(vin) : v128.load64_zero(vin);
  if (len == 3) v = v128.load32_lane(vin + 8, v, 2);
  let e = v128.and(v, vExp);
  e = i32x4.max_u(e, v128.shuffle<i32>(e, e, 2, 3, 0, 1));
  e = i32x4.max_u(e, v128.shuffle<i32>(e, e, 1, 0, 3, 2));
  const emax = i32x4.extract_lane(e, 0) >>> 23;
  const m = mant4(v, i32x4.splat((mantissaBits + 125 - emax) << 23), maxM, vExp, vHalfField, vAbs, vHalf);
  const d = f32x4.mul(f32x4.convert_i32x4_s(m), f32x4.splat(pow2f(emax - mantissaBits - 125)));
  if (len == 1) {
    v128.store32_lane(vout, d, 0);
  } else {
    v128.store64_lane(vout, d, 0);
    if (len == 3) v128.store32_lane(vout + 8, d, 2);
  }
  return emax == 255;
}

/**
 * BFP with one-channel blocks (depthwise layers), written back as the dequantized values
 * M * 2^(E-m+2) in bfloat16: every value rounded half away from zero to m-1 significant bits, the
 * top clamped to 2^(m-1)-1 units, and stored as the top 16 bits of its float32, which hold it
 * exactly (m <= 8 keeps at most 6 fraction bits; bfloat16 has 7), so the depthwise kernel reads
 * half the bytes. Reads `channels` = groups floats per pixel (groupChannels = 1) at pixel stride
 * `srcStride`, writes `dstStride` 16-bit values per pixel (channels..dstStride zeroed). Exact: the
 * result keeps the input's exponent field, so it never leaves the normal range (subnormals become
 * 0). Returns whether any value was NaN or ±Inf. `params`: a BfpParam record (groupChannels,
 * blockLen, nBlocks, paddedLen, scale, sumScale unused).
 */
export function bfp_dequant_c1_bf16(params: usize): bool {
  const src = ptr(params, BfpParam.src);
  const pixels = arg(params, BfpParam.pixels);
  const srcStride = arg(params, BfpParam.srcStride);
  const channels = arg(params, BfpParam.groups);
  const mantissaBits = arg(params, BfpParam.mantissaBits);
  const dst = ptr(params, BfpParam.dst);
  const dstStride = arg(params, BfpParam.dstStride);
  let bad = i32x4.splat(0);
  let badTail = false;
  // On the bit pattern: m-1 significant bits keep the top m-2 bits of the 23-bit fraction, so
  // d = 25-m bits are dropped. Half away from zero adds half a unit of the last kept bit; a carry
  // out of the fraction is the clamp to 2^(m-1)-1 units, all kept bits set, the exponent unchanged.
  // As d - 1 >= 16 (m <= 8), that add changes nothing below bit 16 and carries nothing out of
  // it, so every loop rounds the top halves alone (bfloat16, the result's own width), eight per
  // vector: |h| + half a unit, at most the exponent with every fraction bit set (the clamp),
  // the dropped bits cleared, the sign put back, and 0 where the exponent field is 0.
  const d = 25 - mantissaBits;
  const h16 = 1 << (d - 17), k16 = 0xffff & ~((1 << (d - 16)) - 1);
  const half16 = i32x4.splat(h16 | (h16 << 16)); // in every 16-bit lane
  const kept16 = i32x4.splat(k16 | (k16 << 16));
  const sign16 = lanes(<i32>0x80008000);
  const exp16 = lanes(0x7f807f80);
  const frac16 = lanes(0x007f007f);
  const ch8 = channels & ~7;
  const ch4 = channels & ~3;
  for (let p = 0; p < pixels; p++) {
    const vin = src + <usize>(p * srcStride) * 4;
    const vout = dst + <usize>(p * dstStride) * 2;
    let c = 0;
    for (; c < ch8; c += 8) {
      const b0 = v128.load(vin + <usize>c * 4);
      const b1 = v128.load(vin + <usize>c * 4, 16);
      // The top halves of the eight values, in order.
      const v = i8x16.shuffle(b0, b1, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
      const e = v128.and(v, exp16);
      bad = i16x8.max_u(bad, e); // the exponent field is all ones only for NaN or ±Inf
      v128.store(vout + <usize>c * 2, round16(v, e, half16, kept16, sign16, frac16));
    }
    for (; c < ch4; c += 4) {
      const b0 = v128.load(vin + <usize>c * 4);
      const v = i8x16.shuffle(b0, b0, 2, 3, 6, 7, 10, 11, 14, 15, 2, 3, 6, 7, 10, 11, 14, 15);
      const e = v128.and(v, exp16);
      bad = i16x8.max_u(bad, e);
      v128.store64_lane(vout + <usize>c * 2, round16(v, e, half16, kept16, sign16, frac16), 0);
    }
    for (; c < channels; c++) {
      const v = load<u16>(vin + <usize>c * 4, 2); // the top half
      const e = v & 0x7f80;
      badTail |= e == 0x7f80;
      const r = e == 0 ? 0 : (min<u32>((v & 0x7fff) + h16, e | 0x7f) & k16) | (v & 0x8000);
      store<u16>(vout + <usize>c * 2, r);
    }
    for (; c < dstStride; c++) store<u16>(vout + <usize>c * 2, 0);
  }
  return badTail || v128.any_true(i16x8.eq(bad, exp16));
}

/**
 * One-channel BFP of eight bfloat16 halves `v` (exponent fields `e`), as bfp_dequant_c1_bf16
 * rounds: |v| + half a unit is below 0x8040, so the 16-bit add cannot wrap.
 */
// @ts-ignore: decorator
@inline function round16(v: v128, e: v128, half: v128, kept: v128, sign: v128, frac: v128): v128 {
  const r = v128.and(i16x8.min_u(i16x8.add(v128.andnot(v, sign), half), v128.or(e, frac)), kept);
  return v128.andnot(v128.or(r, v128.and(v, sign)), i16x8.eq(e, i16x8.splat(0)));
}
