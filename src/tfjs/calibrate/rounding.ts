// 'rounding': GPTQ-style, data-aware choice of the VQK integers with the KDS held fixed.
import type { Dims } from './dims.js';
import { upperCholeskyOfInverse } from './linalg.js';

/** Largest inputs per group (C_g·kh·kw) for which the rounding builds its Hessian. */
export const MAX_HESSIAN = 2304;

/**
 * GPTQ-style rounding per group: H = Σ x̂ x̂ᵀ over the group's inputs (C_g·taps of them) at the
 * sampled positions, damped by 1% of its mean diagonal; U = the upper Cholesky factor of H⁻¹.
 * For each output channel, columns in order: q = clamp(round(w/ξ)), then the remaining weights
 * absorb the error (w − ξq)/U_jj · U_j,:. ξ (the block scales) stay as given.
 */
export function gptqRound(w: Float32Array, q0: Int8Array, scales: Float32Array, px: Float32Array, S: number,
  d: Dims & { groups: number; bits: number }): Int8Array {
  const { Cin, Cg, Og, taps, groups, bits } = d;
  const D = Cg * taps;
  const lo = -(2 ** (bits - 1)), hi = 2 ** (bits - 1) - 1;
  const q = q0.slice();
  const col = (c: number, t: number) => t * Cg + c; // column order: tap-major
  for (let g = 0; g < groups; g++) {
    const H = new Float64Array(D * D);
    const v = new Float64Array(D);
    for (let s = 0; s < S; s++) {
      for (let t = 0; t < taps; t++) {
        const xp = (s * taps + t) * Cin + g * Cg;
        for (let c = 0; c < Cg; c++) v[col(c, t)] = px[xp + c];
      }
      for (let i = 0; i < D; i++) {
        const vi = v[i];
        if (vi === 0) continue;
        const row = i * D;
        for (let j = i; j < D; j++) H[row + j] += vi * v[j];
      }
    }
    let mean = 0;
    for (let i = 0; i < D; i++) mean += H[i * D + i];
    mean /= D;
    if (!(mean > 0)) continue; // no signal: keep round-to-nearest
    for (let i = 0; i < D; i++) {
      for (let j = 0; j < i; j++) H[i * D + j] = H[j * D + i];
      H[i * D + i] += 0.01 * mean;
    }
    const U = upperCholeskyOfInverse(H, D);
    if (!U) continue;
    const row = new Float64Array(D);
    for (let o = g * Og; o < (g + 1) * Og; o++) {
      for (let c = 0; c < Cg; c++) for (let t = 0; t < taps; t++) row[col(c, t)] = w[(o * Cg + c) * taps + t];
      for (let j = 0; j < D; j++) {
        const t = Math.floor(j / Cg), c = j % Cg;
        const xi = scales[d.scaleIndex(o, c, t)];
        const k = (o * Cg + c) * taps + t;
        if (xi === 0) { q[k] = 0; continue; }
        const qv = Math.min(hi, Math.max(lo, Math.round(row[j] / xi)));
        q[k] = qv;
        const err = (row[j] - xi * qv) / U[j * D + j];
        for (let m = j + 1; m < D; m++) row[m] -= err * U[j * D + m];
      }
    }
  }
  return q;
}
