// Float32 convolution kernel (the baseline): a tile of 4 output pixels x 8 output channels over
// an indirection buffer, like the DSConv kernels, so both pay the same gather costs.
// Input: NHWC float32, pixel `idx` at input + 4 * idx * inputStride, channel c at +4c; -1 reads
// zeroInput. Weights: per tile of 8 outputs, per tap, per input channel, 8 float32.
// Output: output + 4 * (pixel * outputStride + tile * 8 + k): the sums, or with epiScale set the
// epilogue's clamp(sum * scale[c] + shift[c], lo, hi) on the tile's registers (f32_epilogue's
// operations, in its order), so an NHWC output whose groups fill the tiles needs no pass of its own.
import { ConvParam, arg, argf, ptr } from '../params';
import { epilogue4 } from '../templates/epilogue';

/** `params`: a ConvParam record (its dsconv-only fields unused); `npix` a multiple of 4. */
export function f32_igemm_4x8(params: usize): void {
  const indir = ptr(params, ConvParam.indirection);
  const npix = arg(params, ConvParam.npix);
  const taps = arg(params, ConvParam.taps);
  const inp = ptr(params, ConvParam.input);
  const inStride = arg(params, ConvParam.inputStride);
  const zero = ptr(params, ConvParam.zeroInput);
  const channels = arg(params, ConvParam.channels);
  const w = ptr(params, ConvParam.weights);
  const nTiles = arg(params, ConvParam.nTiles);
  const out = ptr(params, ConvParam.output);
  const outStride = arg(params, ConvParam.outputStride);
  const epiScale = ptr(params, ConvParam.epiScale);
  const epiShift = ptr(params, ConvParam.epiShift);
  const vlo = f32x4.splat(argf(params, ConvParam.lo));
  const vhi = f32x4.splat(argf(params, ConvParam.hi));
  const iStride = <usize>inStride * 4;
  const cBytes = <usize>channels * 4;
  for (let tile = 0; tile < nTiles; tile++) {
    const wTile = w + <usize>(tile * taps * channels) * 32;
    for (let p = 0; p < npix; p += 4) {
      let f0l = f32x4.splat(0), f0h = f32x4.splat(0), f1l = f32x4.splat(0), f1h = f32x4.splat(0);
      let f2l = f32x4.splat(0), f2h = f32x4.splat(0), f3l = f32x4.splat(0), f3h = f32x4.splat(0);
      const ind = indir + <usize>(p * taps) * 4;
      let wp = wTile;
      for (let t = 0; t < taps; t++) {
        const i0 = load<i32>(ind + <usize>t * 4);
        const i1 = load<i32>(ind + <usize>(taps + t) * 4);
        const i2 = load<i32>(ind + <usize>(2 * taps + t) * 4);
        const i3 = load<i32>(ind + <usize>(3 * taps + t) * 4);
        let x0 = select<usize>(inp + <usize>i0 * iStride, zero, i0 >= 0);
        let x1 = select<usize>(inp + <usize>i1 * iStride, zero, i1 >= 0);
        let x2 = select<usize>(inp + <usize>i2 * iStride, zero, i2 >= 0);
        let x3 = select<usize>(inp + <usize>i3 * iStride, zero, i3 >= 0);
        // Pointers bumped and a count down to zero: one live register fewer than indexing by a
        // channel offset, which spared Node 20's TurboFan three reloads from the stack per step
        // (the 7x7 stem's kernel 1.27x there, 1.02x on Node 24).
        for (let k = <i32>cBytes; k > 0; k -= 4) {
          const wl = v128.load(wp);
          const wh = v128.load(wp, 16);
          wp += 32;
          let v = v128.load32_splat(x0); x0 += 4;
          f0l = f32x4.add(f0l, f32x4.mul(v, wl)); f0h = f32x4.add(f0h, f32x4.mul(v, wh));
          v = v128.load32_splat(x1); x1 += 4;
          f1l = f32x4.add(f1l, f32x4.mul(v, wl)); f1h = f32x4.add(f1h, f32x4.mul(v, wh));
          v = v128.load32_splat(x2); x2 += 4;
          f2l = f32x4.add(f2l, f32x4.mul(v, wl)); f2h = f32x4.add(f2h, f32x4.mul(v, wh));
          v = v128.load32_splat(x3); x3 += 4;
          f3l = f32x4.add(f3l, f32x4.mul(v, wl)); f3h = f32x4.add(f3h, f32x4.mul(v, wh));
        }
      }
      if (epiScale != 0) {
        const cs = epiScale + <usize>tile * 32, ch = epiShift + <usize>tile * 32;
        const sl = v128.load(cs), sh = v128.load(cs, 16), tl = v128.load(ch), th = v128.load(ch, 16);
        f0l = epilogue4(f0l, sl, tl, vlo, vhi); f0h = epilogue4(f0h, sh, th, vlo, vhi);
        f1l = epilogue4(f1l, sl, tl, vlo, vhi); f1h = epilogue4(f1h, sh, th, vlo, vhi);
        f2l = epilogue4(f2l, sl, tl, vlo, vhi); f2h = epilogue4(f2h, sh, th, vlo, vhi);
        f3l = epilogue4(f3l, sl, tl, vlo, vhi); f3h = epilogue4(f3h, sh, th, vlo, vhi);
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
