// 'rounding': GPTQ-style, data-aware choice of the VQK integers with the KDS held fixed.
import type { Dims } from './dims.js';

/**
 * Largest inputs per group (C_g·kh·kw) for which the rounding factorises its Hessian: its cost
 * grows as the cube (a 4096-input factorisation is about 23 G multiply-adds, some 20 s here).
 */
export const MAX_HESSIAN = 4096;

/** Columns quantized per block before the rest of the row takes their errors in one update. */
const BLOCK = 32;

/**
 * GPTQ-style rounding of one group's output channels, given U, the upper Cholesky factor of the
 * damped inverse Hessian of the group's inputs (D x D). Per output channel, columns in order:
 * q = clamp(round(w/ξ)), and the columns not yet quantized absorb the error (w − ξq)/U_jj · U_j,:.
 * Lazily (GPTQ's block updates): the columns of a block of BLOCK take their errors at once, the
 * rest of the row only after the block, as one product; every weight still takes the same
 * updates in the same order as column by column. Writes the integers into `q`.
 */
export function gptqRoundGroup(w: Float32Array, q: Int8Array, scales: Float32Array, U: Float64Array, g: number, d: Dims, bits: number): void {
  const { D, Og } = d;
  const lo = -(2 ** (bits - 1)), hi = 2 ** (bits - 1) - 1;
  const o0 = g * Og;
  // W: the group's weights as rows over the columns j (tap-major), updated in place.
  const W = new Float64Array(Og * D);
  for (let r = 0; r < Og; r++) for (let j = 0; j < D; j++) W[r * D + j] = w[(o0 + r) * D + d.weightAt[j]];
  const E = new Float64Array(Og * BLOCK);
  for (let j0 = 0; j0 < D; j0 += BLOCK) {
    const j1 = Math.min(D, j0 + BLOCK), nb = j1 - j0;
    for (let j = j0; j < j1; j++) {
      const ujj = U[j * D + j], uj = j * D;
      for (let r = 0; r < Og; r++) {
        const o = o0 + r, wr = r * D;
        const xi = scales[d.scaleBase(o) + d.scaleOf[j]];
        const k = o * D + d.weightAt[j];
        if (xi === 0) { q[k] = 0; E[r * BLOCK + j - j0] = 0; continue; }
        const v = W[wr + j];
        const qv = Math.min(hi, Math.max(lo, Math.round(v / xi)));
        q[k] = qv;
        const err = (v - xi * qv) / ujj;
        E[r * BLOCK + j - j0] = err;
        for (let m = j + 1; m < j1; m++) W[wr + m] -= err * U[uj + m];
      }
    }
    if (j1 < D) trailingUpdate(W, E, U, Og, D, j0, nb, j1);
  }
}

/**
 * W[r][m] −= Σ_b E[r][b]·U[j0+b][m] for m ≥ j1, b ascending: 4 rows x 4 columns per tile. A
 * zero error (a zero scale) subtracts ±0, which leaves every weight as it was.
 */
function trailingUpdate(W: Float64Array, E: Float64Array, U: Float64Array, R: number, D: number, j0: number, nb: number, j1: number): void {
  const R4 = R & ~3;
  const m4 = j1 + ((D - j1) & ~3);
  for (let r = 0; r < R4; r += 4) {
    const w0 = r * D, w1 = w0 + D, w2 = w1 + D, w3 = w2 + D;
    const e0 = r * BLOCK, e1 = e0 + BLOCK, e2 = e1 + BLOCK, e3 = e2 + BLOCK;
    for (let m = j1; m < m4; m += 4) {
      let c00 = W[w0 + m], c01 = W[w0 + m + 1], c02 = W[w0 + m + 2], c03 = W[w0 + m + 3];
      let c10 = W[w1 + m], c11 = W[w1 + m + 1], c12 = W[w1 + m + 2], c13 = W[w1 + m + 3];
      let c20 = W[w2 + m], c21 = W[w2 + m + 1], c22 = W[w2 + m + 2], c23 = W[w2 + m + 3];
      let c30 = W[w3 + m], c31 = W[w3 + m + 1], c32 = W[w3 + m + 2], c33 = W[w3 + m + 3];
      for (let b = 0; b < nb; b++) {
        const u = (j0 + b) * D + m;
        const u0 = U[u], u1 = U[u + 1], u2 = U[u + 2], u3 = U[u + 3];
        const x0 = E[e0 + b], x1 = E[e1 + b], x2 = E[e2 + b], x3 = E[e3 + b];
        c00 -= x0 * u0; c01 -= x0 * u1; c02 -= x0 * u2; c03 -= x0 * u3;
        c10 -= x1 * u0; c11 -= x1 * u1; c12 -= x1 * u2; c13 -= x1 * u3;
        c20 -= x2 * u0; c21 -= x2 * u1; c22 -= x2 * u2; c23 -= x2 * u3;
        c30 -= x3 * u0; c31 -= x3 * u1; c32 -= x3 * u2; c33 -= x3 * u3;
      }
      W[w0 + m] = c00; W[w0 + m + 1] = c01; W[w0 + m + 2] = c02; W[w0 + m + 3] = c03;
      W[w1 + m] = c10; W[w1 + m + 1] = c11; W[w1 + m + 2] = c12; W[w1 + m + 3] = c13;
      W[w2 + m] = c20; W[w2 + m + 1] = c21; W[w2 + m + 2] = c22; W[w2 + m + 3] = c23;
      W[w3 + m] = c30; W[w3 + m + 1] = c31; W[w3 + m + 2] = c32; W[w3 + m + 3] = c33;
    }
  }
  // The edges: rows past R4 over every column, columns past m4 for the first R4 rows.
  for (let r = 0; r < R; r++) {
    for (let m = r < R4 ? m4 : j1; m < D; m++) {
      let c = W[r * D + m];
      for (let b = 0; b < nb; b++) c -= E[r * BLOCK + b] * U[(j0 + b) * D + m];
      W[r * D + m] = c;
    }
  }
}
