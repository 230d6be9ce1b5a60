// The dense linear algebra of the fits, in float64 on plain typed arrays. GPTQ's factor of an
// inverse is the wasm kernels' (core/factor.ts), as are the Gram sums (core/moments.ts); what stays
// here is small: mirroring a triangle and the K x K solves of the scale refit.
export { upperCholeskyOfInverse } from '../../core/factor.js';

/** Copies the upper triangle of the n x n matrix at `h0` onto its lower one. */
export function mirrorUpper(H: Float64Array, h0: number, n: number): void {
  for (let i = 1; i < n; i++) for (let j = 0; j < i; j++) H[h0 + i * n + j] = H[h0 + j * n + i];
}

/** Solves G x = r for symmetric positive definite G (K x K, row-major); null if not SPD. */
export function choleskySolve(G: Float64Array, r: Float64Array, K: number): Float64Array | null {
  // K is a channel's scale count, a handful: the plain loops, in the order the kernels keep too.
  const L = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    for (let j = 0; j <= i; j++) {
      let s = G[i * K + j];
      for (let k = 0; k < j; k++) s -= L[i * K + k] * L[j * K + k];
      if (i === j) {
        if (!(s > 0)) return null;
        L[i * K + i] = Math.sqrt(s);
      } else L[i * K + j] = s / L[j * K + j];
    }
  }
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
