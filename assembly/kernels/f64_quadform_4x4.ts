// The block moments of calibration's scale refit: per output channel, qᵀ H q summed per pair of
// scale blocks. Each row's sum over a block and each entry of G take their terms in the order of
// the scalar twin (src/reference/kernels.ts), in float64 with no fused multiply-add, so the
// results are its bits. Blocks run outermost: a block's rows of H (symmetric, so row j holds
// column j of every row) are read by every tile of 4 channels x 4 rows while they are in cache.
import { QuadformParam, arg, ptr } from '../params';

/** `params`: a QuadformParam record. */
export function f64_quadform_4x4(params: usize): void {
  const h = ptr(params, QuadformParam.h);
  const q = ptr(params, QuadformParam.q);
  const runs = ptr(params, QuadformParam.runs);
  const nRuns = arg(params, QuadformParam.nRuns);
  const scaleOf = ptr(params, QuadformParam.scaleOf);
  const D = arg(params, QuadformParam.d);
  const K = arg(params, QuadformParam.k);
  const og = arg(params, QuadformParam.og);
  const g = ptr(params, QuadformParam.g);
  const c0 = arg(params, QuadformParam.c0);
  const c1 = arg(params, QuadformParam.c1);
  const rowBytes = <usize>D * 8;
  const gBytes = <usize>K * <usize>K * 8;
  const D4 = D & ~3;
  for (let o = c0; o < c1; o++) memory.fill(g + <usize>o * gBytes, 0, gBytes);
  for (let u = 0; u < nRuns; u++) {
    const run = runs + <usize>u * 12;
    const js = load<i32>(run);
    const je = load<i32>(run, 4);
    const k = load<i32>(run, 8);
    // Tiles of up to 4 channels of one group: they read the same H.
    for (let o0 = c0; o0 < c1;) {
      const grp = o0 / og;
      const n = min(4, min(c1, (grp + 1) * og) - o0);
      const hg = h + <usize>grp * <usize>D * rowBytes;
      const q0 = q + <usize>o0 * rowBytes;
      // Absent channels of a short tile reuse the first one's integers; their sums are dropped.
      const q1 = n > 1 ? q0 + rowBytes : q0;
      const q2 = n > 2 ? q0 + 2 * rowBytes : q0;
      const q3 = n > 3 ? q0 + 3 * rowBytes : q0;
      const go = g + <usize>o0 * gBytes;
      for (let i0 = 0; i0 < D4; i0 += 4) {
        // Rows whose blocks are all right of this one land below G's diagonal: the mirror overwrites them.
        const s = scaleOf + (<usize>i0 << 2);
        if (min(min(load<i32>(s), load<i32>(s, 4)), min(load<i32>(s, 8), load<i32>(s, 12))) > k) continue;
        let a0 = f64x2.splat(0), a1 = f64x2.splat(0), b0 = f64x2.splat(0), b1 = f64x2.splat(0);
        let c0v = f64x2.splat(0), c1v = f64x2.splat(0), d0 = f64x2.splat(0), d1 = f64x2.splat(0);
        for (let j = js; j < je; j++) {
          const row = hg + <usize>j * rowBytes + (<usize>i0 << 3);
          const hl = v128.load(row);
          const hh = v128.load(row, 16);
          const at = <usize>j << 3;
          let x = v128.load64_splat(q0 + at);
          a0 = f64x2.add(a0, f64x2.mul(hl, x)); a1 = f64x2.add(a1, f64x2.mul(hh, x));
          x = v128.load64_splat(q1 + at);
          b0 = f64x2.add(b0, f64x2.mul(hl, x)); b1 = f64x2.add(b1, f64x2.mul(hh, x));
          x = v128.load64_splat(q2 + at);
          c0v = f64x2.add(c0v, f64x2.mul(hl, x)); c1v = f64x2.add(c1v, f64x2.mul(hh, x));
          x = v128.load64_splat(q3 + at);
          d0 = f64x2.add(d0, f64x2.mul(hl, x)); d1 = f64x2.add(d1, f64x2.mul(hh, x));
        }
        addRows(go, scaleOf, q0, i0, K, k, a0, a1);
        if (n > 1) addRows(go + gBytes, scaleOf, q1, i0, K, k, b0, b1);
        if (n > 2) addRows(go + 2 * gBytes, scaleOf, q2, i0, K, k, c0v, c1v);
        if (n > 3) addRows(go + 3 * gBytes, scaleOf, q3, i0, K, k, d0, d1);
      }
      for (let t = 0; t < n; t++) {
        const qo = q0 + <usize>t * rowBytes;
        for (let i = D4; i < D; i++) {
          if (load<i32>(scaleOf + (<usize>i << 2)) > k) continue;
          const hr = hg + <usize>i * rowBytes;
          let v: f64 = 0;
          for (let j = js; j < je; j++) v += load<f64>(hr + (<usize>j << 3)) * load<f64>(qo + (<usize>j << 3));
          addTerm(go + <usize>t * gBytes, scaleOf, qo, i, K, k, v);
        }
      }
      o0 += n;
    }
  }
  for (let o = c0; o < c1; o++) {
    const go = g + <usize>o * gBytes;
    for (let a = 1; a < K; a++) {
      for (let b = 0; b < a; b++) store<f64>(go + (<usize>(a * K + b) << 3), load<f64>(go + (<usize>(b * K + a) << 3)));
    }
  }
}

/** Rows i0..i0+3 of one channel, in order: G[scale of row][k] += q_i · v_i. */
// @ts-ignore: decorator
@inline function addRows(go: usize, scaleOf: usize, qo: usize, i0: i32, K: i32, k: i32, lo: v128, hi: v128): void {
  addTerm(go, scaleOf, qo, i0, K, k, f64x2.extract_lane(lo, 0));
  addTerm(go, scaleOf, qo, i0 + 1, K, k, f64x2.extract_lane(lo, 1));
  addTerm(go, scaleOf, qo, i0 + 2, K, k, f64x2.extract_lane(hi, 0));
  addTerm(go, scaleOf, qo, i0 + 3, K, k, f64x2.extract_lane(hi, 1));
}

/** G[scale of row i][k] += q_i · v. */
// @ts-ignore: decorator
@inline function addTerm(go: usize, scaleOf: usize, qo: usize, i: i32, K: i32, k: i32, v: f64): void {
  const at = go + (<usize>(load<i32>(scaleOf + (<usize>i << 2)) * K + k) << 3);
  store<f64>(at, load<f64>(at) + load<f64>(qo + (<usize>i << 3)) * v);
}
