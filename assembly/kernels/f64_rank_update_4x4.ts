// GPTQ's lazy block update of calibration's rounding: once a block of columns is quantized, the
// columns after it take the block's errors in one pass. Each weight subtracts its terms one by
// one in the order of the scalar twin (src/reference/kernels.ts), in float64 with no fused
// multiply-add, so the results are its bits.
import { UpdateParam, arg, ptr } from '../params';

/** `params`: an UpdateParam record. 4 rows x 4 columns of W per tile, in eight f64x2 accumulators. */
export function f64_rank_update_4x4(params: usize): void {
  const w = ptr(params, UpdateParam.w);
  const e = ptr(params, UpdateParam.e);
  const u = ptr(params, UpdateParam.u);
  const D = arg(params, UpdateParam.d);
  const eStride = <usize>arg(params, UpdateParam.eStride) * 8;
  const j0 = arg(params, UpdateParam.j0);
  const nb = arg(params, UpdateParam.nb);
  const j1 = arg(params, UpdateParam.j1);
  const r0 = arg(params, UpdateParam.r0);
  const r1 = arg(params, UpdateParam.r1);
  const rowBytes = <usize>D * 8;
  const m4 = j1 + ((D - j1) & ~3);
  const u0 = u + <usize>j0 * rowBytes;
  let r = r0;
  for (; r + 4 <= r1; r += 4) {
    const w0 = w + <usize>r * rowBytes;
    const e0 = e + <usize>r * eStride;
    for (let m = j1; m < m4; m += 4) {
      const p = w0 + (<usize>m << 3);
      let a0 = v128.load(p), a1 = v128.load(p, 16);
      let b0 = v128.load(p + rowBytes), b1 = v128.load(p + rowBytes, 16);
      let c0 = v128.load(p + 2 * rowBytes), c1 = v128.load(p + 2 * rowBytes, 16);
      let d0 = v128.load(p + 3 * rowBytes), d1 = v128.load(p + 3 * rowBytes, 16);
      let up = u0 + (<usize>m << 3);
      for (let b = 0; b < nb; b++) {
        const ul = v128.load(up), uh = v128.load(up, 16);
        const eb = e0 + (<usize>b << 3);
        let x = v128.load64_splat(eb);
        a0 = f64x2.sub(a0, f64x2.mul(x, ul)); a1 = f64x2.sub(a1, f64x2.mul(x, uh));
        x = v128.load64_splat(eb + eStride);
        b0 = f64x2.sub(b0, f64x2.mul(x, ul)); b1 = f64x2.sub(b1, f64x2.mul(x, uh));
        x = v128.load64_splat(eb + 2 * eStride);
        c0 = f64x2.sub(c0, f64x2.mul(x, ul)); c1 = f64x2.sub(c1, f64x2.mul(x, uh));
        x = v128.load64_splat(eb + 3 * eStride);
        d0 = f64x2.sub(d0, f64x2.mul(x, ul)); d1 = f64x2.sub(d1, f64x2.mul(x, uh));
        up += rowBytes;
      }
      v128.store(p, a0); v128.store(p, a1, 16);
      v128.store(p + rowBytes, b0); v128.store(p + rowBytes, b1, 16);
      v128.store(p + 2 * rowBytes, c0); v128.store(p + 2 * rowBytes, c1, 16);
      v128.store(p + 3 * rowBytes, d0); v128.store(p + 3 * rowBytes, d1, 16);
    }
    for (let t = 0; t < 4; t++) edge(w, e, u0, r + t, m4, D, nb, rowBytes, eStride);
  }
  for (; r < r1; r++) edge(w, e, u0, r, j1, D, nb, rowBytes, eStride);
}

/** Row r's columns [from, D), one entry at a time. */
// @ts-ignore: decorator
@inline function edge(w: usize, e: usize, u0: usize, r: i32, from: i32, D: i32, nb: i32, rowBytes: usize, eStride: usize): void {
  const wr = w + <usize>r * rowBytes;
  const er = e + <usize>r * eStride;
  for (let m = from; m < D; m++) {
    let c = load<f64>(wr + (<usize>m << 3));
    for (let b = 0; b < nb; b++) c -= load<f64>(er + (<usize>b << 3)) * load<f64>(u0 + <usize>b * rowBytes + (<usize>m << 3));
    store<f64>(wr + (<usize>m << 3), c);
  }
}
