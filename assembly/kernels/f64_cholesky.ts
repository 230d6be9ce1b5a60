// Calibration's factorisation in float64: the lower Cholesky factor L of an SPD matrix
// (f64_cholesky_4x4) and from it GPTQ's U = J L⁻¹ J, J the reversal (f64_cholesky_inverse_4x4).
// Every entry subtracts its terms one at a time in ascending k, then divides (or takes the square
// root), as in the scalar twins (src/reference/kernels.ts), with no fused multiply-add: the tiles
// only choose which entries' sums run side by side, so the results are the twins' bits. Both
// kernels are left-looking over blocks of NB columns: those columns' panels stay in cache while
// every row panel below streams past them once, contiguously (the layouts: abi.ts, CholeskyParam).
import { CholeskyParam, arg, ptr } from '../params';

/** Columns per block: NB panels of 4·N float64 (1 MB at N = 4032) are what stays in cache. */
const NB = 32;

/**
 * L in place of the SPD matrix in `l`, over the columns [j0, j1) and the rows [r0, r1) of the
 * record (threads take a block's rows below its diagonal); returns 1 (and stops) when a pivot is
 * not > 0 (or is NaN). `params`: a CholeskyParam record.
 */
export function f64_cholesky_4x4(params: usize): i32 {
  const l = ptr(params, CholeskyParam.l);
  const N = (arg(params, CholeskyParam.n) + 3) & ~3;
  const j1 = arg(params, CholeskyParam.j1);
  const r0 = arg(params, CholeskyParam.r0);
  const r1 = arg(params, CholeskyParam.r1);
  const panel = <usize>N << 5;
  for (let jb = arg(params, CholeskyParam.j0); jb < j1; jb += NB) {
    const je = min(j1, jb + NB);
    for (let i0 = max(jb, r0); i0 < r1; i0 += 4) {
      const pi = l + (<usize>(i0 >> 2)) * panel;
      for (let j0 = jb; j0 < min(i0, je); j0 += 4) factorTile(pi, l + (<usize>(j0 >> 2)) * panel, j0);
      if (i0 < je && factorDiagonal(pi, i0)) return 1;
    }
  }
  return 0;
}

/**
 * The tile of row panel pi and columns j0..j0+3 (panel pj). A function of its own, called per
 * tile, so that V8 moves it to its optimising tier after a few calls: a loop inside one long call
 * would stay in the baseline code for the whole of it, twice as slow.
 */
function factorTile(pi: usize, pj: usize, j0: i32): void {
  subtractPanels(pi + (<usize>j0 << 5), pi, pj, j0);
  finishTile(pi + (<usize>j0 << 5), pj + (<usize>j0 << 5));
}

/**
 * The 4x4 tile at t (column b at t + 32b) minus Σ_(k < j0) L[i][k]·L[j][k], k ascending: rows i
 * from panel pi in the lanes, columns j from panel pj broadcast.
 */
// @ts-ignore: decorator
@inline function subtractPanels(t: usize, pi: usize, pj: usize, j0: i32): void {
  let c00 = v128.load(t), c01 = v128.load(t, 16), c10 = v128.load(t, 32), c11 = v128.load(t, 48);
  let c20 = v128.load(t, 64), c21 = v128.load(t, 80), c30 = v128.load(t, 96), c31 = v128.load(t, 112);
  let a = pi;
  let b = pj;
  const end = pi + (<usize>j0 << 5);
  while (a < end) {
    const x0 = v128.load(a), x1 = v128.load(a, 16);
    let y = v128.load64_splat(b);
    c00 = f64x2.sub(c00, f64x2.mul(x0, y));
    c01 = f64x2.sub(c01, f64x2.mul(x1, y));
    y = v128.load64_splat(b, 8);
    c10 = f64x2.sub(c10, f64x2.mul(x0, y));
    c11 = f64x2.sub(c11, f64x2.mul(x1, y));
    y = v128.load64_splat(b, 16);
    c20 = f64x2.sub(c20, f64x2.mul(x0, y));
    c21 = f64x2.sub(c21, f64x2.mul(x1, y));
    y = v128.load64_splat(b, 24);
    c30 = f64x2.sub(c30, f64x2.mul(x0, y));
    c31 = f64x2.sub(c31, f64x2.mul(x1, y));
    a += 32;
    b += 32;
  }
  v128.store(t, c00); v128.store(t, c01, 16); v128.store(t, c10, 32); v128.store(t, c11, 48);
  v128.store(t, c20, 64); v128.store(t, c21, 80); v128.store(t, c30, 96); v128.store(t, c31, 112);
}

/**
 * An off-diagonal tile at t, its sums over earlier blocks done: column b subtracts its terms from
 * the tile's own columns k < b (just finished) and divides by L[j][j]; d is the diagonal tile of
 * its columns (L[j0+b][j0+k] at d + 32k + 8b).
 */
// @ts-ignore: decorator
@inline function finishTile(t: usize, d: usize): void {
  const c00 = f64x2.div(v128.load(t), v128.load64_splat(d));
  const c01 = f64x2.div(v128.load(t, 16), v128.load64_splat(d));
  let y = v128.load64_splat(d, 8);
  let c10 = f64x2.sub(v128.load(t, 32), f64x2.mul(c00, y));
  let c11 = f64x2.sub(v128.load(t, 48), f64x2.mul(c01, y));
  y = v128.load64_splat(d, 40);
  c10 = f64x2.div(c10, y);
  c11 = f64x2.div(c11, y);
  y = v128.load64_splat(d, 16);
  let c20 = f64x2.sub(v128.load(t, 64), f64x2.mul(c00, y));
  let c21 = f64x2.sub(v128.load(t, 80), f64x2.mul(c01, y));
  y = v128.load64_splat(d, 48);
  c20 = f64x2.sub(c20, f64x2.mul(c10, y));
  c21 = f64x2.sub(c21, f64x2.mul(c11, y));
  y = v128.load64_splat(d, 80);
  c20 = f64x2.div(c20, y);
  c21 = f64x2.div(c21, y);
  y = v128.load64_splat(d, 24);
  let c30 = f64x2.sub(v128.load(t, 96), f64x2.mul(c00, y));
  let c31 = f64x2.sub(v128.load(t, 112), f64x2.mul(c01, y));
  y = v128.load64_splat(d, 56);
  c30 = f64x2.sub(c30, f64x2.mul(c10, y));
  c31 = f64x2.sub(c31, f64x2.mul(c11, y));
  y = v128.load64_splat(d, 88);
  c30 = f64x2.sub(c30, f64x2.mul(c20, y));
  c31 = f64x2.sub(c31, f64x2.mul(c21, y));
  y = v128.load64_splat(d, 120);
  c30 = f64x2.div(c30, y);
  c31 = f64x2.div(c31, y);
  v128.store(t, c00); v128.store(t, c01, 16); v128.store(t, c10, 32); v128.store(t, c11, 48);
  v128.store(t, c20, 64); v128.store(t, c21, 80); v128.store(t, c30, 96); v128.store(t, c31, 112);
}

/** The diagonal tile of panel pi (rows and columns i0..i0+3), entry by entry; its upper part set to 0. Returns 1 when a pivot fails. */
function factorDiagonal(pi: usize, i0: i32): i32 {
  const t = pi + (<usize>i0 << 5);
  subtractPanels(t, pi, pi, i0);
  for (let b = 0; b < 4; b++) {
    for (let a = 0; a < 4; a++) {
      const at = t + (<usize>b << 5) + (<usize>a << 3);
      if (a < b) {
        store<f64>(at, 0);
        continue;
      }
      let v = load<f64>(at);
      for (let k = 0; k < b; k++) v -= load<f64>(t + (<usize>k << 5) + (<usize>a << 3)) * load<f64>(t + (<usize>k << 5) + (<usize>b << 3));
      if (a == b) {
        if (!(v > 0)) return 1;
        store<f64>(at, Math.sqrt(v));
      } else store<f64>(at, v / load<f64>(t + (<usize>b << 5) + (<usize>b << 3)));
    }
  }
  return 0;
}

/**
 * Columns [j0, j1) of L⁻¹ from the factor in `l` (threads take runs of columns), into `x`, and the
 * columns of U = J L⁻¹ J they make, into `u` (n x n row-major; `u` may be `l`'s memory on one
 * thread: it is written after L's last read). L⁻¹ is formed four columns at a time by forward
 * substitution, entry (r, c) from k = 4⌊c/4⌋ up (the zeros above the diagonal included, as in the
 * twin). `params`: a CholeskyParam record.
 */
export function f64_cholesky_inverse_4x4(params: usize): void {
  const l = ptr(params, CholeskyParam.l);
  const x = ptr(params, CholeskyParam.x);
  const u = ptr(params, CholeskyParam.u);
  const n = arg(params, CholeskyParam.n);
  const j0 = arg(params, CholeskyParam.j0);
  const j1 = arg(params, CholeskyParam.j1);
  const N = (n + 3) & ~3;
  const panel = <usize>N << 5;
  for (let cb = j0; cb < j1; cb += NB) {
    const ce = min(j1, cb + NB);
    for (let i0 = cb; i0 < N; i0 += 4) {
      const pi = l + (<usize>(i0 >> 2)) * panel;
      for (let c0 = cb; c0 < min(i0, ce); c0 += 4) inverseTile(pi, x + (<usize>(c0 >> 2)) * panel, c0, i0);
      if (i0 < ce) inverseDiagonal(pi, x + (<usize>(i0 >> 2)) * panel, i0);
    }
  }
  // U[n-1-r][n-1-c] = L⁻¹[r][c]: row q = n-1-r of U holds row r of L⁻¹ reversed, zeros before it.
  const c1 = min(j1, n);
  for (let q = 0; q < n; q++) {
    const r = n - 1 - q;
    const row = u + <usize>q * (<usize>n << 3) + (<usize>(n - 1) << 3);
    const xr = x + (<usize>r << 5);
    for (let c = j0; c < c1; c++) {
      const v: f64 = c > r ? 0 : load<f64>(xr + (<usize>(c >> 2)) * panel + (<usize>(c & 3) << 3));
      store<f64>(row - (<usize>c << 3), v);
    }
  }
}

/**
 * Rows i0..i0+3 of L⁻¹'s columns c0..c0+3 (group panel xg, row r at xg + 32r), i0 > c0: the
 * terms k in [c0, i0) in eight accumulators, rows broadcast from L's panel pi and the columns in
 * the lanes, then the terms k = i0..r-1 from the rows just finished, and the division.
 */
function inverseTile(pi: usize, xg: usize, c0: i32, i0: i32): void {
  let s00 = f64x2.splat(0), s01 = f64x2.splat(0), s10 = f64x2.splat(0), s11 = f64x2.splat(0);
  let s20 = f64x2.splat(0), s21 = f64x2.splat(0), s30 = f64x2.splat(0), s31 = f64x2.splat(0);
  let a = pi + (<usize>c0 << 5);
  let b = xg + (<usize>c0 << 5);
  const end = pi + (<usize>i0 << 5);
  while (a < end) {
    const y0 = v128.load(b), y1 = v128.load(b, 16);
    let v = v128.load64_splat(a);
    s00 = f64x2.sub(s00, f64x2.mul(v, y0));
    s01 = f64x2.sub(s01, f64x2.mul(v, y1));
    v = v128.load64_splat(a, 8);
    s10 = f64x2.sub(s10, f64x2.mul(v, y0));
    s11 = f64x2.sub(s11, f64x2.mul(v, y1));
    v = v128.load64_splat(a, 16);
    s20 = f64x2.sub(s20, f64x2.mul(v, y0));
    s21 = f64x2.sub(s21, f64x2.mul(v, y1));
    v = v128.load64_splat(a, 24);
    s30 = f64x2.sub(s30, f64x2.mul(v, y0));
    s31 = f64x2.sub(s31, f64x2.mul(v, y1));
    a += 32;
    b += 32;
  }
  // L[i0+a][i0+k] at d + 32k + 8a.
  const d = end;
  let y = v128.load64_splat(d);
  s00 = f64x2.div(s00, y);
  s01 = f64x2.div(s01, y);
  y = v128.load64_splat(d, 8);
  s10 = f64x2.sub(s10, f64x2.mul(y, s00));
  s11 = f64x2.sub(s11, f64x2.mul(y, s01));
  y = v128.load64_splat(d, 40);
  s10 = f64x2.div(s10, y);
  s11 = f64x2.div(s11, y);
  y = v128.load64_splat(d, 16);
  s20 = f64x2.sub(s20, f64x2.mul(y, s00));
  s21 = f64x2.sub(s21, f64x2.mul(y, s01));
  y = v128.load64_splat(d, 48);
  s20 = f64x2.sub(s20, f64x2.mul(y, s10));
  s21 = f64x2.sub(s21, f64x2.mul(y, s11));
  y = v128.load64_splat(d, 80);
  s20 = f64x2.div(s20, y);
  s21 = f64x2.div(s21, y);
  y = v128.load64_splat(d, 24);
  s30 = f64x2.sub(s30, f64x2.mul(y, s00));
  s31 = f64x2.sub(s31, f64x2.mul(y, s01));
  y = v128.load64_splat(d, 56);
  s30 = f64x2.sub(s30, f64x2.mul(y, s10));
  s31 = f64x2.sub(s31, f64x2.mul(y, s11));
  y = v128.load64_splat(d, 88);
  s30 = f64x2.sub(s30, f64x2.mul(y, s20));
  s31 = f64x2.sub(s31, f64x2.mul(y, s21));
  y = v128.load64_splat(d, 120);
  s30 = f64x2.div(s30, y);
  s31 = f64x2.div(s31, y);
  const t = xg + (<usize>i0 << 5);
  v128.store(t, s00); v128.store(t, s01, 16); v128.store(t, s10, 32); v128.store(t, s11, 48);
  v128.store(t, s20, 64); v128.store(t, s21, 80); v128.store(t, s30, 96); v128.store(t, s31, 112);
}

/** Rows i0..i0+3 of L⁻¹'s columns i0..i0+3 (their own group), entry by entry: 1/L[r][r] on the diagonal, 0 above. */
function inverseDiagonal(pi: usize, xg: usize, i0: i32): void {
  for (let a = 0; a < 4; a++) {
    const r = i0 + a;
    const dr = load<f64>(pi + (<usize>r << 5) + (<usize>a << 3));
    for (let b = 0; b < 4; b++) {
      const at = xg + (<usize>r << 5) + (<usize>b << 3);
      if (b > a) store<f64>(at, 0);
      else if (b == a) store<f64>(at, 1 / dr);
      else {
        let s: f64 = 0;
        for (let k = i0; k < r; k++) s -= load<f64>(pi + (<usize>k << 5) + (<usize>a << 3)) * load<f64>(xg + (<usize>k << 5) + (<usize>b << 3));
        store<f64>(at, s / dr);
      }
    }
  }
}
