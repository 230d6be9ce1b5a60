// The Gram sums of calibration (Σ x̂x̂ᵀ, Σ t·x̂ᵀ) in float64. Every input is a float32 value held
// exactly in a float64, so each product is exact and an entry's sum depends only on the order of
// its samples, which is ascending here as in the scalar twin (src/reference/kernels.ts): any
// tiling or split gives the same bits.
import { GemmParam, arg, ptr } from '../params';

/**
 * C += Aᵀ·B over the panels of A and B for each group (GemmParam), 4x4 tiles of C in eight
 * f64x2 accumulators: per sample, four of A's values broadcast against B's four.
 * `params`: a GemmParam record.
 */
export function f64_gemm_4x4(params: usize): void {
  const a = ptr(params, GemmParam.a);
  const upper = arg(params, GemmParam.upper) != 0;
  const b = upper ? a : ptr(params, GemmParam.b);
  const c = ptr(params, GemmParam.c);
  const len = arg(params, GemmParam.len);
  const m = arg(params, GemmParam.m);
  const n = arg(params, GemmParam.n);
  const u0 = arg(params, GemmParam.u0);
  const u1 = arg(params, GemmParam.u1);
  const panel = <usize>len * 32;
  const mp = (m + 3) >> 2;
  const np = (n + 3) >> 2;
  const rs = <usize>n * 8;
  for (let u = u0; u < u1; u++) {
    const g = u / mp;
    const pi = u - g * mp;
    const i0 = pi << 2;
    const rows = min(4, m - i0);
    const ga = a + <usize>g * mp * panel;
    const gb = b + <usize>g * np * panel;
    const gc = c + <usize>g * m * rs;
    for (let pj = upper ? pi : 0; pj < np; pj++) {
      const j0 = pj << 2;
      const cols = min(4, n - j0);
      const t = gc + <usize>i0 * rs + <usize>j0 * 8;
      // Entries outside C start at zero and are never stored.
      let c00 = tileLoad(t, rows > 0, cols), c01 = tileLoad(t + 16, rows > 0, cols - 2);
      let c10 = tileLoad(t + rs, rows > 1, cols), c11 = tileLoad(t + rs + 16, rows > 1, cols - 2);
      let c20 = tileLoad(t + 2 * rs, rows > 2, cols), c21 = tileLoad(t + 2 * rs + 16, rows > 2, cols - 2);
      let c30 = tileLoad(t + 3 * rs, rows > 3, cols), c31 = tileLoad(t + 3 * rs + 16, rows > 3, cols - 2);
      let pa = ga + <usize>pi * panel;
      let pb = gb + <usize>pj * panel;
      const end = pa + panel;
      while (pa < end) {
        const b0 = v128.load(pb);
        const b1 = v128.load(pb, 16);
        let x = v128.load64_splat(pa);
        c00 = f64x2.add(c00, f64x2.mul(x, b0));
        c01 = f64x2.add(c01, f64x2.mul(x, b1));
        x = v128.load64_splat(pa, 8);
        c10 = f64x2.add(c10, f64x2.mul(x, b0));
        c11 = f64x2.add(c11, f64x2.mul(x, b1));
        x = v128.load64_splat(pa, 16);
        c20 = f64x2.add(c20, f64x2.mul(x, b0));
        c21 = f64x2.add(c21, f64x2.mul(x, b1));
        x = v128.load64_splat(pa, 24);
        c30 = f64x2.add(c30, f64x2.mul(x, b0));
        c31 = f64x2.add(c31, f64x2.mul(x, b1));
        pa += 32;
        pb += 32;
      }
      tileStore(t, rows > 0, cols, c00); tileStore(t + 16, rows > 0, cols - 2, c01);
      tileStore(t + rs, rows > 1, cols, c10); tileStore(t + rs + 16, rows > 1, cols - 2, c11);
      tileStore(t + 2 * rs, rows > 2, cols, c20); tileStore(t + 2 * rs + 16, rows > 2, cols - 2, c21);
      tileStore(t + 3 * rs, rows > 3, cols, c30); tileStore(t + 3 * rs + 16, rows > 3, cols - 2, c31);
    }
  }
}

/** Two entries of a tile row at p, of which `cols` (clipped to 0..2) are inside C; zeros outside. */
// @ts-ignore: decorator
@inline function tileLoad(p: usize, row: bool, cols: i32): v128 {
  if (!row || cols <= 0) return f64x2.splat(0);
  if (cols == 1) return f64x2.replace_lane(f64x2.splat(0), 0, load<f64>(p));
  return v128.load(p);
}

/** Stores the entries of v that tileLoad read from C. */
// @ts-ignore: decorator
@inline function tileStore(p: usize, row: bool, cols: i32, v: v128): void {
  if (!row || cols <= 0) return;
  if (cols == 1) store<f64>(p, f64x2.extract_lane(v, 0));
  else v128.store(p, v);
}
