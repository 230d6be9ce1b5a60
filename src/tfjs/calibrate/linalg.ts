// The dense linear algebra of the fits: Cholesky, a solve, and the factor of an inverse.

/** Solves G x = r for symmetric positive definite G (K x K, row-major); null if not SPD. */
export function choleskySolve(G: Float64Array, r: Float64Array, K: number): Float64Array | null {
  const L = cholesky(G, K);
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

/** Lower Cholesky factor of a symmetric positive definite matrix, or null. */
export function cholesky(A: Float64Array, n: number): Float64Array | null {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j];
      const li = i * n, lj = j * n;
      for (let k = 0; k < j; k++) s -= L[li + k] * L[lj + k];
      if (i === j) {
        if (!(s > 0)) return null;
        L[li + i] = Math.sqrt(s);
      } else L[li + j] = s / L[lj + j];
    }
  }
  return L;
}

/**
 * U upper triangular with H⁻¹ = Uᵀ U (row-major); null if H is not SPD. With J the reversal
 * permutation and J H J = L Lᵀ, H = R Rᵀ for the upper R = J L J, so H⁻¹ = (R⁻¹)ᵀ R⁻¹ and
 * U = R⁻¹: one Cholesky and one triangular inverse.
 */
export function upperCholeskyOfInverse(H: Float64Array, n: number): Float64Array | null {
  const F = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) F[i * n + j] = H[(n - 1 - i) * n + (n - 1 - j)];
  const L = cholesky(F, n);
  if (!L) return null;
  // Li = L⁻¹ (lower), by forward substitution column by column.
  const Li = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    Li[j * n + j] = 1 / L[j * n + j];
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      const li = i * n;
      for (let k = j; k < i; k++) s -= L[li + k] * Li[k * n + j];
      Li[li + j] = s / L[li + i];
    }
  }
  // R⁻¹ = J L⁻¹ J.
  const U = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) U[i * n + j] = Li[(n - 1 - i) * n + (n - 1 - j)];
  return U;
}
