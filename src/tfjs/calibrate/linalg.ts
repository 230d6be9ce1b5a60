// The dense linear algebra of the fits, in float64 on plain typed arrays: the sums the statistics
// accumulate (Σ x̂x̂ᵀ, Σ t x̂ᵀ), Cholesky, the factor of an inverse and small solves. The large
// loops are register-blocked (4x4 tiles of accumulators, or 4 rows sharing each load), which in V8
// runs 2-3 times as fast as the plain loops, and every element is still summed in the plain
// loops' order, so the blocking changes no result.

/**
 * H += X Xᵀ on the upper triangle (and on the diagonal 4x4 tiles' lower halves), H n x n,
 * X n rows of `len` at `x0 + i·len`: the Gram matrix of n variables over len samples. Each
 * entry adds its products in sample order onto its previous value.
 */
export function syrkUpper(H: Float64Array, h0: number, X: Float32Array, x0: number, n: number, len: number): void {
  // Each block of 4 rows against the columns from its diagonal on: gemmNT's tiles, H's row stride.
  for (let i = 0; i < n; i += 4) gemmNT(H, h0 + i * n + i, X, x0 + i * len, Math.min(4, n - i), X, x0 + i * len, n - i, len, n);
}

/**
 * C += A Bᵀ: C m x n at `c0` (row stride `ldc`, n by default), A m rows and B n rows of `len`
 * each. Each entry adds its products in order onto its previous value.
 */
export function gemmNT(C: Float64Array, c0: number, A: Float32Array, a0: number, m: number, B: Float32Array, b0: number, n: number, len: number, ldc = n): void {
  const m4 = m & ~3, n4 = n & ~3;
  for (let i = 0; i < m4; i += 4) {
    const p0 = a0 + i * len, p1 = p0 + len, p2 = p1 + len, p3 = p2 + len;
    for (let j = 0; j < n4; j += 4) {
      const q0 = b0 + j * len, q1 = q0 + len, q2 = q1 + len, q3 = q2 + len;
      const r0 = c0 + i * ldc + j, r1 = r0 + ldc, r2 = r1 + ldc, r3 = r2 + ldc;
      let c00 = C[r0], c01 = C[r0 + 1], c02 = C[r0 + 2], c03 = C[r0 + 3];
      let c10 = C[r1], c11 = C[r1 + 1], c12 = C[r1 + 2], c13 = C[r1 + 3];
      let c20 = C[r2], c21 = C[r2 + 1], c22 = C[r2 + 2], c23 = C[r2 + 3];
      let c30 = C[r3], c31 = C[r3 + 1], c32 = C[r3 + 2], c33 = C[r3 + 3];
      for (let s = 0; s < len; s++) {
        const x0 = A[p0 + s], x1 = A[p1 + s], x2 = A[p2 + s], x3 = A[p3 + s];
        const y0 = B[q0 + s], y1 = B[q1 + s], y2 = B[q2 + s], y3 = B[q3 + s];
        c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
        c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
        c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
        c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
      }
      C[r0] = c00; C[r0 + 1] = c01; C[r0 + 2] = c02; C[r0 + 3] = c03;
      C[r1] = c10; C[r1 + 1] = c11; C[r1 + 2] = c12; C[r1 + 3] = c13;
      C[r2] = c20; C[r2 + 1] = c21; C[r2 + 2] = c22; C[r2 + 3] = c23;
      C[r3] = c30; C[r3 + 1] = c31; C[r3 + 2] = c32; C[r3 + 3] = c33;
    }
  }
  // The edges: rows past m4 against every column, columns past n4 against the first m4 rows.
  for (let i = 0; i < m; i++) {
    for (let j = i < m4 ? n4 : 0; j < n; j++) {
      const p = a0 + i * len, q = b0 + j * len;
      let c = C[c0 + i * ldc + j];
      for (let s = 0; s < len; s++) c += A[p + s] * B[q + s];
      C[c0 + i * ldc + j] = c;
    }
  }
}

/** Copies the upper triangle of the n x n matrix at `h0` onto its lower one. */
export function mirrorUpper(H: Float64Array, h0: number, n: number): void {
  for (let i = 1; i < n; i++) for (let j = 0; j < i; j++) H[h0 + i * n + j] = H[h0 + j * n + i];
}

/**
 * Lower Cholesky factor L of the symmetric positive definite n x n matrix whose entry (i, j) is
 * `at(i, j)` (read once, on or below the diagonal), or null if it is not SPD.
 */
export function cholesky(at: (i: number, j: number) => number, n: number): Float64Array | null {
  const L = new Float64Array(n * n);
  for (let i0 = 0; i0 < n; i0 += 4) {
    const rows = Math.min(4, n - i0);
    // Full blocks of 4 rows: the 4x4 tiles left of their diagonal block. Each tile sums the
    // columns before it (k < j0) in 16 accumulators, then finishes its own columns in order.
    if (rows === 4) {
      const r0 = i0 * n, r1 = r0 + n, r2 = r1 + n, r3 = r2 + n;
      for (let j0 = 0; j0 < i0; j0 += 4) {
        const l0 = j0 * n, l1 = l0 + n, l2 = l1 + n, l3 = l2 + n;
        let c00 = at(i0, j0), c01 = at(i0, j0 + 1), c02 = at(i0, j0 + 2), c03 = at(i0, j0 + 3);
        let c10 = at(i0 + 1, j0), c11 = at(i0 + 1, j0 + 1), c12 = at(i0 + 1, j0 + 2), c13 = at(i0 + 1, j0 + 3);
        let c20 = at(i0 + 2, j0), c21 = at(i0 + 2, j0 + 1), c22 = at(i0 + 2, j0 + 2), c23 = at(i0 + 2, j0 + 3);
        let c30 = at(i0 + 3, j0), c31 = at(i0 + 3, j0 + 1), c32 = at(i0 + 3, j0 + 2), c33 = at(i0 + 3, j0 + 3);
        for (let k = 0; k < j0; k++) {
          const x0 = L[r0 + k], x1 = L[r1 + k], x2 = L[r2 + k], x3 = L[r3 + k];
          const y0 = L[l0 + k], y1 = L[l1 + k], y2 = L[l2 + k], y3 = L[l3 + k];
          c00 -= x0 * y0; c01 -= x0 * y1; c02 -= x0 * y2; c03 -= x0 * y3;
          c10 -= x1 * y0; c11 -= x1 * y1; c12 -= x1 * y2; c13 -= x1 * y3;
          c20 -= x2 * y0; c21 -= x2 * y1; c22 -= x2 * y2; c23 -= x2 * y3;
          c30 -= x3 * y0; c31 -= x3 * y1; c32 -= x3 * y2; c33 -= x3 * y3;
        }
        const tile = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
        for (let b = 0; b < 4; b++) {
          const lj = (j0 + b) * n, d = L[lj + j0 + b];
          for (let a = 0; a < 4; a++) {
            const ri = (i0 + a) * n;
            let v = tile[a * 4 + b];
            for (let k = j0; k < j0 + b; k++) v -= L[ri + k] * L[lj + k];
            L[ri + j0 + b] = v / d;
          }
        }
      }
    }
    for (let a = 0; a < rows; a++) {
      const i = i0 + a, li = i * n;
      for (let j = rows === 4 ? i0 : 0; j <= i; j++) {
        const lj = j * n;
        let s = at(i, j);
        for (let k = 0; k < j; k++) s -= L[li + k] * L[lj + k];
        if (i === j) {
          if (!(s > 0)) return null;
          L[li + i] = Math.sqrt(s);
        } else L[li + j] = s / L[lj + j];
      }
    }
  }
  return L;
}

/**
 * U upper triangular with H⁻¹ = Uᵀ U (n x n, row-major, H at `h0` with `damp` added to its
 * diagonal); null if that is not SPD. With J the reversal permutation and J H J = L Lᵀ,
 * H = R Rᵀ for the upper R = J L J, so H⁻¹ = (R⁻¹)ᵀ R⁻¹ and U = R⁻¹ = J L⁻¹ J: one Cholesky
 * and one triangular inverse. Only H's upper triangle is read.
 */
export function upperCholeskyOfInverse(H: Float64Array, h0: number, n: number, damp: number): Float64Array | null {
  const last = h0 + (n - 1) * n + (n - 1);
  // (J H J)[i][j] for j <= i is H[n-1-i][n-1-j], on or above H's diagonal.
  const L = cholesky((i, j) => H[last - i * n - j] + (i === j ? damp : 0), n);
  if (!L) return null;
  // L⁻¹ four columns at a time (forward substitution from e_j, k ascending as in the plain
  // solve), each column c written straight into U: (L⁻¹)[r][c] is U[n-1-r][n-1-c].
  const U = new Float64Array(n * n);
  const x = new Float64Array(4 * n);
  for (let j0 = 0; j0 < n; j0 += 4) {
    const nb = Math.min(4, n - j0);
    x.fill(0);
    for (let b = 0; b < nb; b++) x[b * n + j0 + b] = 1 / L[(j0 + b) * n + j0 + b];
    for (let i = j0 + 1; i < n; i++) {
      if (i >= j0 + 4 && i + 4 <= n) {
        inverseTile(L, x, n, j0, i);
        i += 3;
        continue;
      }
      const li = i * n;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      // Entries k < j0 + b of column b are zero, and subtracting L·0 from 0 leaves exactly 0.
      for (let k = j0; k < i; k++) {
        const l = L[li + k];
        s0 -= l * x[k]; s1 -= l * x[n + k]; s2 -= l * x[2 * n + k]; s3 -= l * x[3 * n + k];
      }
      const d = L[li + i];
      if (i > j0) x[i] = s0 / d;
      if (i > j0 + 1 && nb > 1) x[n + i] = s1 / d;
      if (i > j0 + 2 && nb > 2) x[2 * n + i] = s2 / d;
      if (i > j0 + 3 && nb > 3) x[3 * n + i] = s3 / d;
    }
    for (let b = 0; b < nb; b++) {
      const c = j0 + b, col = n - 1 - c;
      for (let r = c; r < n; r++) U[(n - 1 - r) * n + col] = x[b * n + r];
    }
  }
  return U;
}

/**
 * Rows i..i+3 of the four columns x (length n each, of L⁻¹ for columns j0..j0+3, i >= j0 + 4):
 * the sums over k < i in 16 accumulators, then the terms k = i..i+2 row by row, in order.
 */
function inverseTile(L: Float64Array, x: Float64Array, n: number, j0: number, i: number): void {
  const p0 = i * n, p1 = p0 + n, p2 = p1 + n, p3 = p2 + n;
  const n2 = 2 * n, n3 = 3 * n;
  let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
  let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
  for (let k = j0; k < i; k++) {
    const l0 = L[p0 + k], l1 = L[p1 + k], l2 = L[p2 + k], l3 = L[p3 + k];
    const x0 = x[k], x1 = x[n + k], x2 = x[n2 + k], x3 = x[n3 + k];
    s00 -= l0 * x0; s01 -= l0 * x1; s02 -= l0 * x2; s03 -= l0 * x3;
    s10 -= l1 * x0; s11 -= l1 * x1; s12 -= l1 * x2; s13 -= l1 * x3;
    s20 -= l2 * x0; s21 -= l2 * x1; s22 -= l2 * x2; s23 -= l2 * x3;
    s30 -= l3 * x0; s31 -= l3 * x1; s32 -= l3 * x2; s33 -= l3 * x3;
  }
  const s = [s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23, s30, s31, s32, s33];
  for (let a = 0; a < 4; a++) {
    const r = i + a, lr = r * n, d = L[lr + r];
    for (let b = 0; b < 4; b++) {
      let v = s[a * 4 + b];
      for (let k = i; k < r; k++) v -= L[lr + k] * x[b * n + k];
      x[b * n + r] = v / d;
    }
  }
}

/** Solves G x = r for symmetric positive definite G (K x K, row-major); null if not SPD. */
export function choleskySolve(G: Float64Array, r: Float64Array, K: number): Float64Array | null {
  const L = cholesky((i, j) => G[i * K + j], K);
  if (!L) return null;
  const z = new Float64Array(K);
  for (let i = 0; i < K; i++) {
    let v = r[i];
    for (let k = 0; k < i; k++) v -= L[i * K + k] * z[k];
    z[i] = v / L[i * K + i];
  }
  for (let i = K - 1; i >= 0; i--) {
    let v = z[i];
    for (let k = i + 1; k < K; k++) v -= L[k * K + i] * z[k];
    z[i] = v / L[i * K + i];
  }
  return z;
}
