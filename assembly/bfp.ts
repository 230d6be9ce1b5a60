// Block floating point: float32 activations -> integer mantissas + one scale per block.
// All work is done on the float32 bit pattern (DSCONV.md, "Activations"): the block exponent is
// the largest exponent field, and each value is moved to that exponent by adding to its own
// exponent field, which is exact whenever the result is a normal float. A result below 0.5 rounds
// to 0 whatever its exact value, so lanes that would leave the normal range are simply zeroed.

const EXP_MASK: i32 = 0x7f800000;
const ABS_MASK: i32 = 0x7fffffff;
// Exponent field of 0.5: shifted values below it round to zero.
const HALF_FIELD: i32 = 126 << 23;

// Horizontal unsigned max of four i32 lanes.
// @ts-ignore: decorator
@inline function hmaxU(v: v128): i32 {
  v = i32x4.max_u(v, v128.shuffle<i32>(v, v, 2, 3, 0, 1));
  v = i32x4.max_u(v, v128.shuffle<i32>(v, v, 1, 0, 3, 2));
  return i32x4.extract_lane(v, 0);
}

// 2^e as float32 for e in [-149, 127] (subnormal below -126), bit-exact.
// @ts-ignore: decorator
@inline function pow2f(e: i32): f32 {
  return e >= -126 ? reinterpret<f32>((e + 127) << 23) : reinterpret<f32>(1 << (e + 149));
}

// Mantissas of four lanes, given the exponent-field adjustment `adj` = k << 23 (value * 2^k).
// @ts-ignore: decorator
@inline function mant4(bits: v128, adj: v128, maxM: v128): v128 {
  const ef = v128.and(bits, i32x4.splat(EXP_MASK));
  const moved = i32x4.add(ef, adj);
  const keep = v128.andnot(i32x4.ge_s(moved, i32x4.splat(HALF_FIELD)), i32x4.eq(ef, i32x4.splat(0)));
  const ax = i32x4.add(v128.and(bits, i32x4.splat(ABS_MASK)), adj);
  // |x| is in [0.5, 2^(m-1)) on kept lanes, where trunc(|x| + 0.5) is exact half-away rounding.
  let r = i32x4.trunc_sat_f32x4_s(f32x4.add(ax, f32x4.splat(0.5)));
  r = v128.and(i32x4.min_s(r, maxM), keep);
  const sign = i32x4.shr_s(bits, 31);
  return i32x4.sub(v128.xor(r, sign), sign);
}

// Scalar twin of mant4 for block tails.
// @ts-ignore: decorator
@inline function mant1(bits: i32, adj: i32, maxM: i32): i32 {
  const ef = bits & EXP_MASK;
  if (ef == 0 || ef + adj < HALF_FIELD) return 0;
  const ax = reinterpret<f32>((bits & ABS_MASK) + adj);
  let r = min(<i32>(ax + 0.5), maxM);
  return bits < 0 ? -r : r;
}

// The largest biased exponent of `len` float32 values at vin (0 when all are zero or subnormal).
// @ts-ignore: decorator
@inline function blockExponent(vin: usize, len: i32): i32 {
  const len4 = len & ~3;
  let vmax = i32x4.splat(0);
  for (let c = 0; c < len4; c += 4) {
    vmax = i32x4.max_u(vmax, v128.and(v128.load(vin + <usize>c * 4), i32x4.splat(EXP_MASK)));
  }
  let emax = hmaxU(vmax);
  for (let c = len4; c < len; c++) emax = max(emax, load<i32>(vin + <usize>c * 4) & EXP_MASK);
  return emax >>> 23;
}

// Both BFP layouts share this loop. T = i16: int16 mantissas and one f32 scale per block record;
// T = i8: int8 mantissas (|M| <= 127 fits) and records of (f32 scale, i32 sumScale * the sum of
// the block's mantissas), the term the relaxed kernels start from to undo their weight offset.
// @ts-ignore: decorator
@inline function bfpBlocks<T>(
  src: usize, pixels: i32, srcStride: i32,
  groups: i32, groupChannels: i32, blockLen: i32, nBlocks: i32, mantissaBits: i32,
  mant: usize, mantStride: i32, paddedLen: i32, scale: usize, sumScale: i32,
): bool {
  let nonFinite = false;
  const narrow8 = sizeof<T>() == 1;
  const recordBytes: usize = narrow8 ? 8 : 4;
  const maxMs = (1 << (mantissaBits - 1)) - 1;
  const maxM = i32x4.splat(maxMs);
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
        const emax = blockExponent(vin, len);
        nonFinite |= emax == 255;
        if (emax == 0) {
          memory.fill(vout, 0, <usize>paddedLen * sizeof<T>());
          store<f32>(rec, 0);
          if (narrow8) store<i32>(rec, 0, 4);
          continue;
        }
        const adjS = (mantissaBits + 125 - emax) << 23;
        const adj = i32x4.splat(adjS);
        let vsum = i32x4.splat(0);
        let c = 0;
        if (narrow8) {
          for (; c + 16 <= len; c += 16) {
            const m0 = mant4(v128.load(vin + <usize>c * 4), adj, maxM);
            const m1 = mant4(v128.load(vin + <usize>c * 4, 16), adj, maxM);
            const m2 = mant4(v128.load(vin + <usize>c * 4, 32), adj, maxM);
            const m3 = mant4(v128.load(vin + <usize>c * 4, 48), adj, maxM);
            vsum = i32x4.add(vsum, i32x4.add(i32x4.add(m0, m1), i32x4.add(m2, m3)));
            v128.store(vout + <usize>c, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(m0, m1), i16x8.narrow_i32x4_s(m2, m3)));
          }
          for (; c + 4 <= len; c += 4) {
            const m0 = mant4(v128.load(vin + <usize>c * 4), adj, maxM);
            vsum = i32x4.add(vsum, m0);
            const n = i16x8.narrow_i32x4_s(m0, m0);
            v128.store32_lane(vout + <usize>c, i8x16.narrow_i16x8_s(n, n), 0);
          }
        } else {
          for (; c + 8 <= len; c += 8) {
            const lo = mant4(v128.load(vin + <usize>c * 4), adj, maxM);
            const hi = mant4(v128.load(vin + <usize>c * 4, 16), adj, maxM);
            v128.store(vout + <usize>c * 2, i16x8.narrow_i32x4_s(lo, hi));
          }
          if (c + 4 <= len) {
            const lo = mant4(v128.load(vin + <usize>c * 4), adj, maxM);
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
        store<f32>(rec, pow2f(emax - mantissaBits - 125));
        if (narrow8) store<i32>(rec, sum * sumScale, 4);
      }
    }
  }
  return nonFinite;
}

/**
 * Quantizes `pixels` pixels of an NHWC float32 tensor (pixel stride `srcStride` floats) to BFP.
 * Channels form `groups` groups of `groupChannels`; each group is cut into `nBlocks` blocks of
 * `blockLen` channels (the last may be short). Block (p, g, β) writes `paddedLen` int16 mantissas
 * at mant + 2 * (p * mantStride + (g * nBlocks + β) * paddedLen), zero beyond the block's
 * length, and its scale 2^(E-m+2) (0 for an all-zero block) at scale + 4 * (p * groups * nBlocks
 * + g * nBlocks + β). Returns whether any block held a NaN or ±Inf (its output is then
 * meaningless): the host's check of the input, folded into this pass.
 */
export function bfp_quantize_nhwc(
  src: usize, pixels: i32, srcStride: i32,
  groups: i32, groupChannels: i32, blockLen: i32, nBlocks: i32, mantissaBits: i32,
  mant: usize, mantStride: i32, paddedLen: i32, scale: usize,
): bool {
  return bfpBlocks<i16>(src, pixels, srcStride, groups, groupChannels, blockLen, nBlocks, mantissaBits,
    mant, mantStride, paddedLen, scale, 0);
}

/**
 * As bfp_quantize_nhwc, with int8 mantissas at mant + p * mantStride + slot * paddedLen and
 * 8-byte records at scale + 8 * (p * groups * nBlocks + slot): the f32 scale, then sumScale
 * times the sum of the block's mantissas (i32).
 */
export function bfp_quantize_nhwc_i8(
  src: usize, pixels: i32, srcStride: i32,
  groups: i32, groupChannels: i32, blockLen: i32, nBlocks: i32, mantissaBits: i32,
  mant: usize, mantStride: i32, paddedLen: i32, scale: usize, sumScale: i32,
): bool {
  return bfpBlocks<i8>(src, pixels, srcStride, groups, groupChannels, blockLen, nBlocks, mantissaBits,
    mant, mantStride, paddedLen, scale, sumScale);
}

/**
 * BFP and back: writes each value's dequantized BFP value M * 2^(E-m+2) as float32 (exact, also
 * where it is subnormal: a multiple of 2^(E-m+2) >= 2^-149) at the same channel position, pixel
 * stride `dstStride` floats. Blocks as in bfp_quantize_nhwc. For layers whose blocks are so short
 * that the float kernel on dequantized values beats the integer one. Returns whether any value
 * was NaN or ±Inf.
 */
export function bfp_dequant_nhwc(
  src: usize, pixels: i32, srcStride: i32,
  groups: i32, groupChannels: i32, blockLen: i32, nBlocks: i32, mantissaBits: i32,
  dst: usize, dstStride: i32,
): bool {
  let nonFinite = false;
  const maxMs = (1 << (mantissaBits - 1)) - 1;
  const maxM = i32x4.splat(maxMs);
  for (let p = 0; p < pixels; p++) {
    const row = src + <usize>(p * srcStride) * 4;
    const drow = dst + <usize>(p * dstStride) * 4;
    for (let g = 0; g < groups; g++) {
      for (let b = 0; b < nBlocks; b++) {
        const c0 = g * groupChannels + b * blockLen;
        const len = min(blockLen, groupChannels - b * blockLen);
        const vin = row + <usize>c0 * 4;
        const vout = drow + <usize>c0 * 4;
        const emax = blockExponent(vin, len);
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
          const m = mant4(v128.load(vin + <usize>c * 4), adj, maxM);
          v128.store(vout + <usize>c * 4, f32x4.mul(f32x4.convert_i32x4_s(m), sv));
        }
        for (; c < len; c++) store<f32>(vout + <usize>c * 4, <f32>mant1(load<i32>(vin + <usize>c * 4), adjS, maxMs) * s);
      }
    }
  }
  return nonFinite;
}

/**
 * BFP with one-channel blocks (depthwise layers), written back as the dequantized float32
 * values M * 2^(E-m+2): every value rounded half away from zero to m-1 significant bits, the
 * top clamped to 2^(m-1)-1 units. Reads `channels` floats per pixel at pixel stride `srcStride`,
 * writes `dstStride` floats per pixel (channels..dstStride zeroed). Exact: the result keeps the
 * input's exponent field, so it never leaves the normal range. Returns whether any value was NaN
 * or ±Inf.
 */
export function bfp_dequant_c1(
  src: usize, pixels: i32, srcStride: i32, channels: i32, mantissaBits: i32,
  dst: usize, dstStride: i32,
): bool {
  let bad = i32x4.splat(0);
  let badTail = false;
  const maxMs = (1 << (mantissaBits - 1)) - 1;
  const maxM = i32x4.splat(maxMs);
  // Moving each value to exponent field m+125 puts |x| in [2^(m-2), 2^(m-1)).
  const target = i32x4.splat((mantissaBits + 125) << 23);
  const ch4 = channels & ~3;
  for (let p = 0; p < pixels; p++) {
    const vin = src + <usize>(p * srcStride) * 4;
    const vout = dst + <usize>(p * dstStride) * 4;
    let c = 0;
    for (; c < ch4; c += 4) {
      const bits = v128.load(vin + <usize>c * 4);
      const ef = v128.and(bits, i32x4.splat(EXP_MASK));
      bad = v128.or(bad, i32x4.eq(ef, i32x4.splat(EXP_MASK)));
      const ax = v128.or(v128.and(bits, i32x4.splat(0x007fffff)), target);
      let r = i32x4.trunc_sat_f32x4_s(f32x4.add(ax, f32x4.splat(0.5)));
      r = i32x4.min_s(r, maxM);
      // r has exponent field m+125 as a float; give it back the input's exponent field and sign.
      let out = i32x4.add(f32x4.convert_i32x4_s(r), i32x4.sub(ef, target));
      out = v128.or(out, v128.and(bits, i32x4.splat(0x80000000)));
      v128.store(vout + <usize>c * 4, v128.andnot(out, i32x4.eq(ef, i32x4.splat(0))));
    }
    for (; c < channels; c++) {
      const bits = load<i32>(vin + <usize>c * 4);
      const ef = bits & EXP_MASK;
      badTail |= ef == EXP_MASK;
      if (ef == 0) { store<f32>(vout + <usize>c * 4, 0); continue; }
      const ax = reinterpret<f32>((bits & 0x007fffff) | ((mantissaBits + 125) << 23));
      const r = min(<i32>(ax + 0.5), maxMs);
      const outBits = reinterpret<i32>(<f32>r) + ef - ((mantissaBits + 125) << 23);
      store<i32>(vout + <usize>c * 4, outBits | (bits & 0x80000000));
    }
    for (; c < dstStride; c++) store<f32>(vout + <usize>c * 4, 0);
  }
  return badTail || v128.any_true(bad);
}
