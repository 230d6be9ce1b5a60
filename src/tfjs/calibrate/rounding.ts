// 'rounding': GPTQ-style, data-aware choice of the VQK integers with the KDS held fixed.
import type { Dims } from './dims.js';
import { RoundingBuffers } from '../../core/moments.js';

/**
 * Largest inputs per group (C_g·kh·kw) for which the rounding factorises its Hessian: its cost
 * grows as the cube (a 4096-input factorisation is about 23 G multiply-adds, some 20 s here).
 */
export const MAX_HESSIAN = 4096;

/** Columns quantized per block before the rest of the row takes their errors in one update. */
const BLOCK = 32;

/**
 * GPTQ-style rounding of one group's output channels, given `factor` U, the upper Cholesky factor
 * of the damped inverse Hessian of the group's inputs (D x D). Per output channel, columns in order:
 * q = clamp(round(w/ξ)), and the columns not yet quantized absorb the error (w − ξq)/U_jj · U_j,:.
 * Lazily (GPTQ's block updates): the columns of a block of BLOCK take their errors at once, the
 * rest of the row only after the block, as one product; every weight still takes the same
 * updates in the same order as column by column. Writes the integers into `q`.
 */
export function gptqRoundGroup(w: Float32Array, q: Int8Array, scales: Float32Array, factor: Float64Array, g: number, d: Dims, bits: number): void {
  const { D, Og } = d;
  const lo = -(2 ** (bits - 1)), hi = 2 ** (bits - 1) - 1;
  const o0 = g * Og;
  // W: the group's weights as rows over the columns j (tap-major), updated in place, beside E
  // and U in wasm memory for the block updates (no call below allocates, so the views hold).
  const buffers = new RoundingBuffers(Og, D, BLOCK);
  const { W, E, U } = buffers;
  U.set(factor);
  for (let r = 0; r < Og; r++) for (let j = 0; j < D; j++) W[r * D + j] = w[(o0 + r) * D + d.weightAt[j]];
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
    // W[r][m] −= Σ_b E[r][b]·U[j0+b][m] for m ≥ j1: a zero error (a zero scale) subtracts ±0,
    // which leaves every weight as it was.
    if (j1 < D) buffers.update(j0, nb, j1);
  }
}
