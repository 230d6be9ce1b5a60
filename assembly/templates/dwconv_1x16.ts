// The loop of both depthwise kernels (f32_dwconv_1x16, f32_dwconv_1x16_bf16): channels are the
// SIMD lanes, one output pixel at a time, 16 channels (four vectors) per pass over the taps, so
// each tap's address serves four multiply-adds. T is the input's type: f32, or u16 for
// bfloat16, widened to float32 (its 16 bits above 16 zero bits) as it is loaded, so the same sums
// from half the bytes. Input: NHWC, channel stride `inputStride` elements (a multiple of 4),
// pixel `idx` at input + sizeof<T>() * idx * inputStride; -1 reads zeroInput. Weights float32
// [tap][channels]. Output: output + 4 * (pixel * outputStride + c): the sums, or with epiScale set
// the epilogue's clamp(sum * scale[c] + shift[c], lo, hi) (f32_epilogue's operations, in its
// order), so an NHWC output whose channels fill the lanes needs no pass of its own.
import { ConvParam, arg, argf, ptr } from '../params';
import { epilogue4 } from './epilogue';
import { lanes } from './lanes';

// bfloat16 lanes 0..3 and 4..7 of v as float32 (z: zeros).
// @ts-ignore: decorator
@inline function lo(z: v128, v: v128): v128 {
  return i8x16.shuffle(z, v, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
}

// @ts-ignore: decorator
@inline function hi(z: v128, v: v128): v128 {
  return i8x16.shuffle(z, v, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
}

/** `params`: a ConvParam record (nTiles and the dsconv-only fields unused). */
// @ts-ignore: decorator
@inline export function dwconvPixels<T>(params: usize): void {
  const indir = ptr(params, ConvParam.indirection);
  const npix = arg(params, ConvParam.npix);
  const taps = arg(params, ConvParam.taps);
  const inp = ptr(params, ConvParam.input);
  const iStride = <usize>arg(params, ConvParam.inputStride) * sizeof<T>();
  const zero = ptr(params, ConvParam.zeroInput);
  const out = ptr(params, ConvParam.output);
  const outStride = arg(params, ConvParam.outputStride);
  // Each pixel's tap addresses, resolved once (not once per 16 channels), go into the next
  // pixel's output row, which is written only after this pixel is done; the last pixel of the
  // call, or rows too short to hold them, resolve each tap where it is read.
  const early = taps <= outStride ? npix - 1 : 0;
  for (let p = 0; p < early; p++) {
    const ind = indir + <usize>(p * taps) * 4;
    const o = out + <usize>(p * outStride) * 4;
    const slots = o + <usize>outStride * 4;
    for (let t = 0; t < taps; t++) {
      const i = load<i32>(ind + <usize>t * 4);
      store<u32>(slots + <usize>t * 4, <u32>select<usize>(inp + <usize>i * iStride, zero, i >= 0));
    }
    dwconvPixel<T>(params, taps, inp, iStride, zero, slots, o, true);
  }
  for (let p = early; p < npix; p++) {
    dwconvPixel<T>(params, taps, inp, iStride, zero, indir + <usize>(p * taps) * 4, out + <usize>(p * outStride) * 4, false);
  }
}

/**
 * One output pixel at o: its taps' input addresses read from `at` (resolved), or their indices
 * (not resolved: -1 reads `zero`). Reads its other fields of the record per pixel: few next to
 * the taps.
 */
// @ts-ignore: decorator
@inline function dwconvPixel<T>(params: usize, taps: i32, inp: usize, iStride: usize, zero: usize, at: usize, o: usize, resolved: bool): void {
  const bf16 = sizeof<T>() == 2;
  const channels = arg(params, ConvParam.channels);
  const w = ptr(params, ConvParam.weights);
  const scale = ptr(params, ConvParam.epiScale);
  const shift = ptr(params, ConvParam.epiShift);
  const vlo = f32x4.splat(argf(params, ConvParam.lo));
  const vhi = f32x4.splat(argf(params, ConvParam.hi));
  const z = lanes(0);
  const cBytes = <usize>channels * 4;
  const c16 = channels & ~15;
  let c = 0;
  for (; c < c16; c += 16) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let wp = w + <usize>c * 4;
    for (let t = 0; t < taps; t++) {
      const x = tapAddress(at, t, inp, iStride, zero, resolved) + <usize>c * sizeof<T>();
      let x0: v128, x1: v128, x2: v128, x3: v128;
      if (bf16) {
        const v0 = v128.load(x), v1 = v128.load(x, 16);
        x0 = lo(z, v0); x1 = hi(z, v0); x2 = lo(z, v1); x3 = hi(z, v1);
      } else {
        x0 = v128.load(x); x1 = v128.load(x, 16); x2 = v128.load(x, 32); x3 = v128.load(x, 48);
      }
      a0 = f32x4.add(a0, f32x4.mul(x0, v128.load(wp)));
      a1 = f32x4.add(a1, f32x4.mul(x1, v128.load(wp, 16)));
      a2 = f32x4.add(a2, f32x4.mul(x2, v128.load(wp, 32)));
      a3 = f32x4.add(a3, f32x4.mul(x3, v128.load(wp, 48)));
      wp += cBytes;
    }
    const cb = <usize>c * 4;
    if (scale != 0) {
      a0 = epilogue4(a0, v128.load(scale + cb), v128.load(shift + cb), vlo, vhi);
      a1 = epilogue4(a1, v128.load(scale + cb, 16), v128.load(shift + cb, 16), vlo, vhi);
      a2 = epilogue4(a2, v128.load(scale + cb, 32), v128.load(shift + cb, 32), vlo, vhi);
      a3 = epilogue4(a3, v128.load(scale + cb, 48), v128.load(shift + cb, 48), vlo, vhi);
    }
    v128.store(o + cb, a0); v128.store(o + cb, a1, 16); v128.store(o + cb, a2, 32); v128.store(o + cb, a3, 48);
  }
  for (; c < channels; c += 4) {
    let acc = f32x4.splat(0);
    for (let t = 0; t < taps; t++) {
      const x = tapAddress(at, t, inp, iStride, zero, resolved) + <usize>c * sizeof<T>();
      const xv = bf16 ? lo(z, v128.load64_zero(x)) : v128.load(x);
      acc = f32x4.add(acc, f32x4.mul(xv, v128.load(w + <usize>t * cBytes + <usize>c * 4)));
    }
    const cb = <usize>c * 4;
    if (scale != 0) acc = epilogue4(acc, v128.load(scale + cb), v128.load(shift + cb), vlo, vhi);
    v128.store(o + cb, acc);
  }
}

/** Tap t's input address: read from `at` if resolved, else from its index there. */
// @ts-ignore: decorator
@inline function tapAddress(at: usize, t: i32, inp: usize, iStride: usize, zero: usize, resolved: bool): usize {
  if (resolved) return <usize>load<u32>(at + <usize>t * 4);
  const i = load<i32>(at + <usize>t * 4);
  return select<usize>(inp + <usize>i * iStride, zero, i >= 0);
}
