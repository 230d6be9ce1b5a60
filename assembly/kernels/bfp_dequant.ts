// The dequantizing BFP passes, for the layers that run a float kernel on exactly dequantized
// activations (blocks of at most 4 channels, depthwise).
import { BfpParam, arg, ptr } from '../params';
import { EXP_MASK, blockExponent, mant1, mant4, pow2f } from '../templates/bfp';

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
 * top clamped to 2^(m-1)-1 units. Reads `channels` = groups floats per pixel (groupChannels = 1)
 * at pixel stride `srcStride`, writes `dstStride` floats per pixel (channels..dstStride zeroed). Exact: the result keeps the
 * input's exponent field, so it never leaves the normal range. Returns whether any value was NaN
 * or ±Inf. `params`: a BfpParam record (groupChannels, blockLen, nBlocks, paddedLen, scale, sumScale
 * unused).
 */
export function bfp_dequant_c1(params: usize): bool {
  const src = ptr(params, BfpParam.src);
  const pixels = arg(params, BfpParam.pixels);
  const srcStride = arg(params, BfpParam.srcStride);
  const channels = arg(params, BfpParam.groups);
  const mantissaBits = arg(params, BfpParam.mantissaBits);
  const dst = ptr(params, BfpParam.dst);
  const dstStride = arg(params, BfpParam.dstStride);
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
