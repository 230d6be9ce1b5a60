// The output epilogue of every conv path: bias, CDS and activation, into the caller's layout.
import { EpilogueParam, arg, argf, ptr } from '../params';
import { transpose4 } from '../templates/transpose4x4';
import { epilogue4 } from '../templates/epilogue';

/**
 * out = clamp(acc * scale[c] + shift[c], lo, hi) for `pixels` x `channels`, reading acc at
 * src + 4 * (p * srcStride + c), writing dst + 4 * (p * dstPixStride + c * dstChanStride).
 * The host folds bias and the CDS affine into scale/shift and the activation into lo/hi.
 * `params`: an EpilogueParam record.
 */
export function f32_epilogue(params: usize): void {
  const src = ptr(params, EpilogueParam.src);
  const srcStride = arg(params, EpilogueParam.srcStride);
  const pixels = arg(params, EpilogueParam.pixels);
  const channels = arg(params, EpilogueParam.channels);
  const dst = ptr(params, EpilogueParam.dst);
  const dstPixStride = arg(params, EpilogueParam.dstPixStride);
  const dstChanStride = arg(params, EpilogueParam.dstChanStride);
  const scale = ptr(params, EpilogueParam.scale);
  const shift = ptr(params, EpilogueParam.shift);
  const lo = argf(params, EpilogueParam.lo);
  const hi = argf(params, EpilogueParam.hi);
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  if (dstChanStride == 1) {
    const c4 = channels & ~3;
    for (let p = 0; p < pixels; p++) {
      const s = src + <usize>(p * srcStride) * 4;
      const d = dst + <usize>(p * dstPixStride) * 4;
      let c = 0;
      for (; c < c4; c += 4) {
        const o = <usize>c * 4;
        v128.store(d + o, epilogue4(v128.load(s + o), v128.load(scale + o), v128.load(shift + o), vlo, vhi));
      }
      for (; c < channels; c++) {
        const o = <usize>c * 4;
        const y = load<f32>(s + o) * load<f32>(scale + o) + load<f32>(shift + o);
        store<f32>(d + o, min(max(y, lo), hi));
      }
    }
  } else {
    let c0 = 0;
    if (dstPixStride == 1) {
      // NCHW: 4 pixels x 4 channels at a time, transposed in registers.
      const c4 = channels & ~3;
      const p4 = pixels & ~3;
      const ss = <usize>srcStride * 4;
      const ds = <usize>dstChanStride * 4;
      for (; c0 < c4; c0 += 4) {
        const o = <usize>c0 * 4;
        const k = v128.load(scale + o);
        const b = v128.load(shift + o);
        for (let p = 0; p < p4; p += 4) {
          const s = src + <usize>p * ss + o;
          const y0 = epilogue4(v128.load(s), k, b, vlo, vhi);
          const y1 = epilogue4(v128.load(s + ss), k, b, vlo, vhi);
          const y2 = epilogue4(v128.load(s + 2 * ss), k, b, vlo, vhi);
          const y3 = epilogue4(v128.load(s + 3 * ss), k, b, vlo, vhi);
          transpose4(dst + <usize>c0 * ds + <usize>p * 4, y0, y1, y2, y3, ds);
        }
        for (let c = c0; c < c0 + 4; c++) {
          const kc = load<f32>(scale + <usize>c * 4);
          const bc = load<f32>(shift + <usize>c * 4);
          for (let p = p4; p < pixels; p++) {
            const y = load<f32>(src + <usize>(p * srcStride + c) * 4) * kc + bc;
            store<f32>(dst + <usize>(c * dstChanStride + p) * 4, min(max(y, lo), hi));
          }
        }
      }
    }
    for (let c = c0; c < channels; c++) {
      const k = load<f32>(scale + <usize>c * 4);
      const b = load<f32>(shift + <usize>c * 4);
      const d = dst + <usize>(c * dstChanStride) * 4;
      for (let p = 0; p < pixels; p++) {
        const y = load<f32>(src + <usize>(p * srcStride + c) * 4) * k + b;
        store<f32>(d + <usize>(p * dstPixStride) * 4, min(max(y, lo), hi));
      }
    }
  }
}
