// Depthwise float32 kernel (one input channel per output channel): channels are the SIMD lanes.
// Input: NHWC float32 with channel stride padded to a multiple of 4 (`channels` is that padded
// count), pixel `idx` at input + 4 * idx * inputStride; -1 reads zeroInput. Weights float32
// [tap][channels]. Output: output + 4 * (pixel * outputStride + c): the sums, or with epiScale set
// the epilogue's clamp(sum * scale[c] + shift[c], lo, hi) (f32_epilogue's operations, in its order),
// so an NHWC output whose channels fill the lanes needs no pass of its own.
import { ConvParam, arg, argf, ptr } from '../params';
import { epilogue4 } from '../templates/epilogue';

/**
 * `params`: a ConvParam record (nTiles and the dsconv-only fields unused). One pixel at a time,
 * 16 channels (four vectors) per pass over the taps, so each tap's index lookup serves four
 * multiply-adds.
 */
export function f32_dwconv_1x16(params: usize): void {
  const indir = ptr(params, ConvParam.indirection);
  const npix = arg(params, ConvParam.npix);
  const taps = arg(params, ConvParam.taps);
  const inp = ptr(params, ConvParam.input);
  const inStride = arg(params, ConvParam.inputStride);
  const zero = ptr(params, ConvParam.zeroInput);
  const channels = arg(params, ConvParam.channels);
  const w = ptr(params, ConvParam.weights);
  const out = ptr(params, ConvParam.output);
  const outStride = arg(params, ConvParam.outputStride);
  const scale = ptr(params, ConvParam.epiScale);
  const shift = ptr(params, ConvParam.epiShift);
  const vlo = f32x4.splat(argf(params, ConvParam.lo));
  const vhi = f32x4.splat(argf(params, ConvParam.hi));
  const iStride = <usize>inStride * 4;
  const cBytes = <usize>channels * 4;
  const c16 = cBytes & ~63;
  for (let p = 0; p < npix; p++) {
    const ind = indir + <usize>(p * taps) * 4;
    const o = out + <usize>(p * outStride) * 4;
    let c: usize = 0;
    for (; c < c16; c += 64) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let wp = w + c;
      for (let t = 0; t < taps; t++) {
        const i = load<i32>(ind + <usize>t * 4);
        const x = select<usize>(inp + <usize>i * iStride, zero, i >= 0) + c;
        a0 = f32x4.add(a0, f32x4.mul(v128.load(x), v128.load(wp)));
        a1 = f32x4.add(a1, f32x4.mul(v128.load(x, 16), v128.load(wp, 16)));
        a2 = f32x4.add(a2, f32x4.mul(v128.load(x, 32), v128.load(wp, 32)));
        a3 = f32x4.add(a3, f32x4.mul(v128.load(x, 48), v128.load(wp, 48)));
        wp += cBytes;
      }
      if (scale != 0) {
        a0 = epilogue4(a0, v128.load(scale + c), v128.load(shift + c), vlo, vhi);
        a1 = epilogue4(a1, v128.load(scale + c, 16), v128.load(shift + c, 16), vlo, vhi);
        a2 = epilogue4(a2, v128.load(scale + c, 32), v128.load(shift + c, 32), vlo, vhi);
        a3 = epilogue4(a3, v128.load(scale + c, 48), v128.load(shift + c, 48), vlo, vhi);
      }
      v128.store(o + c, a0); v128.store(o + c, a1, 16); v128.store(o + c, a2, 32); v128.store(o + c, a3, 48);
    }
    for (; c < cBytes; c += 16) {
      let acc = f32x4.splat(0);
      for (let t = 0; t < taps; t++) {
        const i = load<i32>(ind + <usize>t * 4);
        const x = select<usize>(inp + <usize>i * iStride, zero, i >= 0) + c;
        acc = f32x4.add(acc, f32x4.mul(v128.load(x), v128.load(w + <usize>t * cBytes + c)));
      }
      if (scale != 0) acc = epilogue4(acc, v128.load(scale + c), v128.load(shift + c), vlo, vhi);
      v128.store(o + c, acc);
    }
  }
}
