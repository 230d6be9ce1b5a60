// Block floating point, the arithmetic every BFP kernel shares (a template, not itself exported):
// float32 activations -> integer mantissas + one scale per block.
// All work is done on the float32 bit pattern (docs/ARITHMETIC.md, "Activations"): the block
// exponent is the largest exponent field, and each value is moved to that exponent by adding to
// its own exponent field, which is exact whenever the result is a normal float. A result below 0.5
// rounds to 0 whatever its exact value, so lanes that would leave the normal range are simply
// zeroed.

import { BfpParam, arg, ptr } from '../params';
import { lanes } from './lanes';

export const EXP_MASK: i32 = 0x7f800000;
export const ABS_MASK: i32 = 0x7fffffff;
// Exponent field of 0.5: shifted values below it round to zero.
export const HALF_FIELD: i32 = 126 << 23;
// Exponent field of 2^23: adding it rounds a float in [0, 2^22) to an integer in its low bits.
const MAGIC: f32 = 8388608.0;

// Horizontal unsigned max of four i32 lanes.
// @ts-ignore: decorator
@inline function hmaxU(v: v128): i32 {
  v = i32x4.max_u(v, v128.shuffle<i32>(v, v, 2, 3, 0, 1));
  v = i32x4.max_u(v, v128.shuffle<i32>(v, v, 1, 0, 3, 2));
  return i32x4.extract_lane(v, 0);
}

// 2^e as float32 for e in [-149, 127] (subnormal below -126), bit-exact.
// @ts-ignore: decorator
@inline export function pow2f(e: i32): f32 {
  return e >= -126 ? reinterpret<f32>((e + 127) << 23) : reinterpret<f32>(1 << (e + 149));
}

// The loops' vectors below are their callers' lanes() of EXP_MASK (vExp), ABS_MASK (vAbs),
// HALF_FIELD (vHalfField), 0.5f (vHalf) and MAGIC (vMagic), made once per call.

// Mantissas of four lanes, given the exponent-field adjustment `adj` = k << 23 (value * 2^k).
// @ts-ignore: decorator
@inline export function mant4(bits: v128, adj: v128, maxM: v128, vExp: v128, vHalfField: v128, vAbs: v128, vHalf: v128): v128 {
  const ef = v128.and(bits, vExp);
  const moved = i32x4.add(ef, adj);
  const keep = v128.andnot(i32x4.ge_s(moved, vHalfField), i32x4.eq(ef, i32x4.splat(0)));
  const ax = i32x4.add(v128.and(bits, vAbs), adj);
  // |x| is in [0.5, 2^(m-1)) on kept lanes, where trunc(|x| + 0.5) is exact half-away rounding.
  let r = i32x4.trunc_sat_f32x4_s(f32x4.add(ax, vHalf));
  r = v128.and(i32x4.min_s(r, maxM), keep);
  const sign = i32x4.shr_s(bits, 31);
  return i32x4.sub(v128.xor(r, sign), sign);
}

// mant4 for blocks whose exponent field is at least m (so k = m+125-emax <= 125, given as 2^k):
// there a subnormal input moves below 0.5 and any value that leaves the normal range is far below
// it, so the plain float multiply needs no lane mask. Rounding is the add of 2^23 (half to even),
// then +1 where that rounded an exact tie down; V8 lowers this to fewer instructions than the
// truncating conversion.
// @ts-ignore: decorator
@inline export function mant4f(bits: v128, scaleK: v128, maxM: v128, vAbs: v128, vMagic: v128, vHalf: v128): v128 {
  const y = f32x4.mul(v128.and(bits, vAbs), scaleK);
  const t = f32x4.add(y, vMagic);
  const tieDown = f32x4.eq(f32x4.sub(y, f32x4.sub(t, vMagic)), vHalf);
  let r = i32x4.sub(i32x4.sub(t, vMagic), tieDown);
  r = i32x4.min_s(r, maxM);
  const sign = i32x4.shr_s(bits, 31);
  return i32x4.sub(v128.xor(r, sign), sign);
}

// Scalar twin of mant4 for block tails.
// @ts-ignore: decorator
@inline export function mant1(bits: i32, adj: i32, maxM: i32): i32 {
  const ef = bits & EXP_MASK;
  if (ef == 0 || ef + adj < HALF_FIELD) return 0;
  const ax = reinterpret<f32>((bits & ABS_MASK) + adj);
  let r = min(<i32>(ax + 0.5), maxM);
  return bits < 0 ? -r : r;
}

// The largest biased exponent of `len` float32 values at vin (0 when all are zero or subnormal).
// @ts-ignore: decorator
@inline export function blockExponent(vin: usize, len: i32, vExp: v128): i32 {
  const len4 = len & ~3;
  let vmax = i32x4.splat(0);
  for (let c = 0; c < len4; c += 4) {
    vmax = i32x4.max_u(vmax, v128.and(v128.load(vin + <usize>c * 4), vExp));
  }
  let emax = hmaxU(vmax);
  for (let c = len4; c < len; c++) emax = max(emax, load<i32>(vin + <usize>c * 4) & EXP_MASK);
  return emax >>> 23;
}

// Four lanes' mantissas by mant4f or mant4: `fast` is a constant where quantizeBlock is inlined,
// so each copy keeps one of the two.
// @ts-ignore: decorator
@inline function mantissas(bits: v128, fast: bool, scaleK: v128, adj: v128, maxM: v128,
  vExp: v128, vHalfField: v128, vAbs: v128, vHalf: v128, vMagic: v128): v128 {
  return fast ? mant4f(bits, scaleK, maxM, vAbs, vMagic, vHalf) : mant4(bits, adj, maxM, vExp, vHalfField, vAbs, vHalf);
}

// One block of bfpBlocks: `len` values at vin to mantissas at vout (zero to paddedLen); returns
// the sum of its mantissas (for the int8 records). `fast`: the block may take mant4f.
// @ts-ignore: decorator
@inline function quantizeBlock<T>(vin: usize, vout: usize, len: i32, paddedLen: i32, emax: i32, mantissaBits: i32, maxMs: i32, maxM: v128,
  fast: bool, vExp: v128, vHalfField: v128, vAbs: v128, vHalf: v128, vMagic: v128): i32 {
  const narrow8 = sizeof<T>() == 1;
  const adjS = (mantissaBits + 125 - emax) << 23;
  const adj = i32x4.splat(adjS);
  const sk = f32x4.splat(pow2f(mantissaBits + 125 - emax));
  let vsum = i32x4.splat(0);
  let c = 0;
  if (narrow8) {
    for (; c + 16 <= len; c += 16) {
      const m0 = mantissas(v128.load(vin + <usize>c * 4), fast, sk, adj, maxM, vExp, vHalfField, vAbs, vHalf, vMagic);
      const m1 = mantissas(v128.load(vin + <usize>c * 4, 16), fast, sk, adj, maxM, vExp, vHalfField, vAbs, vHalf, vMagic);
      const m2 = mantissas(v128.load(vin + <usize>c * 4, 32), fast, sk, adj, maxM, vExp, vHalfField, vAbs, vHalf, vMagic);
      const m3 = mantissas(v128.load(vin + <usize>c * 4, 48), fast, sk, adj, maxM, vExp, vHalfField, vAbs, vHalf, vMagic);
      vsum = i32x4.add(vsum, i32x4.add(i32x4.add(m0, m1), i32x4.add(m2, m3)));
      v128.store(vout + <usize>c, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(m0, m1), i16x8.narrow_i32x4_s(m2, m3)));
    }
    for (; c + 4 <= len; c += 4) {
      const m0 = mantissas(v128.load(vin + <usize>c * 4), fast, sk, adj, maxM, vExp, vHalfField, vAbs, vHalf, vMagic);
      vsum = i32x4.add(vsum, m0);
      const n = i16x8.narrow_i32x4_s(m0, m0);
      v128.store32_lane(vout + <usize>c, i8x16.narrow_i16x8_s(n, n), 0);
    }
  } else {
    for (; c + 8 <= len; c += 8) {
      const lo = mantissas(v128.load(vin + <usize>c * 4), fast, sk, adj, maxM, vExp, vHalfField, vAbs, vHalf, vMagic);
      const hi = mantissas(v128.load(vin + <usize>c * 4, 16), fast, sk, adj, maxM, vExp, vHalfField, vAbs, vHalf, vMagic);
      v128.store(vout + <usize>c * 2, i16x8.narrow_i32x4_s(lo, hi));
    }
    if (c + 4 <= len) {
      const lo = mantissas(v128.load(vin + <usize>c * 4), fast, sk, adj, maxM, vExp, vHalfField, vAbs, vHalf, vMagic);
      v128.store64_lane(vout + <usize>c * 2, i16x8.narrow_i32x4_s(lo, lo), 0);
      c += 4;
    }
  }
  let sum = i32x4.extract_lane(vsum, 0) + i32x4.extract_lane(vsum, 1) + i32x4.extract_lane(vsum, 2) + i32x4.extract_lane(vsum, 3);
  for (; c < len; c++) {
    const m = mant1(load<i32>(vin + <usize>c * 4), adjS, maxMs);
    sum += m;
    store<T>(vout + <usize>c * sizeof<T>(), <T>m);
  }
  for (; c < paddedLen; c++) store<T>(vout + <usize>c * sizeof<T>(), 0);
  return sum;
}

// The quantizing pass of both BFP layouts, reading a BfpParam record. T = i16: int16 mantissas and one f32 scale per block record;
// T = i8: int8 mantissas (|M| <= 127 fits) and records of (f32 scale, i32 sumScale * the sum of
// the block's mantissas), the term the relaxed kernels start from to undo their weight offset.
// @ts-ignore: decorator
@inline export function bfpBlocks<T>(params: usize): bool {
  const src = ptr(params, BfpParam.src);
  const pixels = arg(params, BfpParam.pixels);
  const srcStride = arg(params, BfpParam.srcStride);
  const groups = arg(params, BfpParam.groups);
  const groupChannels = arg(params, BfpParam.groupChannels);
  const blockLen = arg(params, BfpParam.blockLen);
  const nBlocks = arg(params, BfpParam.nBlocks);
  const mantissaBits = arg(params, BfpParam.mantissaBits);
  const mant = ptr(params, BfpParam.dst);
  const mantStride = arg(params, BfpParam.dstStride);
  const paddedLen = arg(params, BfpParam.paddedLen);
  const scale = ptr(params, BfpParam.scale);
  const sumScale = arg(params, BfpParam.sumScale);
  let nonFinite = false;
  const narrow8 = sizeof<T>() == 1;
  const recordBytes: usize = narrow8 ? 8 : 4;
  const maxMs = (1 << (mantissaBits - 1)) - 1;
  const maxM = i32x4.splat(maxMs);
  const vExp = lanes(EXP_MASK), vAbs = lanes(ABS_MASK), vHalfField = lanes(HALF_FIELD);
  const vHalf = lanes(reinterpret<i32>(<f32>0.5)), vMagic = lanes(reinterpret<i32>(MAGIC));
  const slots = groups * nBlocks;
  for (let p = 0; p < pixels; p++) {
    const row = src + <usize>(p * srcStride) * 4;
    const mrow = mant + <usize>(p * mantStride) * sizeof<T>();
    const srow = scale + <usize>(p * slots) * recordBytes;
    for (let g = 0; g < groups; g++) {
      for (let b = 0; b < nBlocks; b++) {
        const c0 = b * blockLen;
        const len = min(blockLen, groupChannels - c0);
        const vin = row + <usize>(g * groupChannels + c0) * 4;
        const slot = g * nBlocks + b;
        const vout = mrow + <usize>(slot * paddedLen) * sizeof<T>();
        const rec = srow + <usize>slot * recordBytes;
        const emax = blockExponent(vin, len, vExp);
        nonFinite |= emax == 255;
        if (emax == 0) {
          memory.fill(vout, 0, <usize>paddedLen * sizeof<T>());
          store<f32>(rec, 0);
          if (narrow8) store<i32>(rec, 0, 4);
          continue;
        }
        // Blocks with an exponent field of at least m take mant4f (see there); the rest mant4.
        const sum = emax >= mantissaBits ? quantizeBlock<T>(vin, vout, len, paddedLen, emax, mantissaBits, maxMs, maxM, true, vExp, vHalfField, vAbs, vHalf, vMagic)
          : quantizeBlock<T>(vin, vout, len, paddedLen, emax, mantissaBits, maxMs, maxM, false, vExp, vHalfField, vAbs, vHalf, vMagic);
        store<f32>(rec, pow2f(emax - mantissaBits - 125));
        if (narrow8) store<i32>(rec, sum * sumScale, 4);
      }
    }
  }
  return nonFinite;
}

