// The running statistics a layer's fit is made from, summed over every sampled position of every
// batch so far; nothing per image is kept. With x̂ the BFP-dequantized input columns of a
// position and t the float target of an output channel there, the fits need only
//   per group of inputs: H = Σ x̂x̂ᵀ (the Hessian of the rounding) and m = Σ x̂,
//   per output channel: R = Σ t·x̂, Σ t and Σ t²,
// since the DSConv output is exactly ŵ·x̂ + bias (docs/ARITHMETIC.md) for the reconstructed
// weights ŵ = ξ·q. Convs that read the same input at the same positions share one InputStats.
import { gemmPanels, panelIndex } from '../../core/moments.js';
import { mirrorUpper, upperCholeskyOfInverse } from './linalg.js';
import type { Dims } from './dims.js';

export class InputStats {
  /** [group][D][D]: the upper triangle is summed; the lower one is filled by prepare(). */
  readonly H: Float64Array;
  readonly m: Float64Array;
  n = 0;
  private prepared = -1;
  private factors = new Map<number, Float64Array | null>();
  private factored = -1;

  constructor(readonly groups: number, readonly D: number, readonly owner: number) {
    this.H = new Float64Array(groups * D * D);
    this.m = new Float64Array(groups * D);
  }

  /** Adds S positions' columns, [group][D][S] in the Gram kernel's panels. */
  add(X: Float64Array, S: number): void {
    const { D, groups } = this;
    gemmPanels(this.H, X, null, groups, D, D, S);
    addRowSums(this.m, X, groups, D, S);
    this.n += S;
  }

  /** H made whole (both triangles) for the fits; once per change. */
  prepare(): void {
    if (this.prepared === this.n) return;
    for (let g = 0; g < this.groups; g++) mirrorUpper(this.H, g * this.D * this.D, this.D);
    this.prepared = this.n;
  }

  /**
   * GPTQ's factor of group g, U with (H + λI)⁻¹ = UᵀU, λ = 1% of H's mean diagonal; null when the
   * inputs carry no signal or H is not positive definite. Kept until the statistics change, so
   * convs sharing this input factorise it once.
   */
  factor(g: number): Float64Array | null {
    if (this.factored !== this.n) { this.factors.clear(); this.factored = this.n; }
    if (this.factors.has(g)) return this.factors.get(g)!;
    const { D } = this, h0 = g * D * D;
    let mean = 0;
    for (let i = 0; i < D; i++) mean += this.H[h0 + i * D + i];
    mean /= D;
    const U = mean > 0 ? upperCholeskyOfInverse(this.H, h0, D, 0.01 * mean) : null;
    this.factors.set(g, U);
    return U;
  }
}

/** Per output channel: Σ t·x̂ over its group's columns, Σ t, Σ t². */
export class TargetStats {
  readonly R: Float64Array;
  readonly st: Float64Array;
  readonly stt: Float64Array;
  n = 0;

  constructor(readonly d: Dims) {
    this.R = new Float64Array(d.C * d.D);
    this.st = new Float64Array(d.C);
    this.stt = new Float64Array(d.C);
  }

  /** Adds S positions: X the input columns [group][D][S], T the targets [group][Og][S], both in panels. */
  add(X: Float64Array, T: Float64Array, S: number): void {
    const { D, Og, groups } = this.d;
    gemmPanels(this.R, T, X, groups, Og, D, S);
    addRowSums(this.st, T, groups, Og, S, this.stt);
    this.n += S;
  }
}

/**
 * sums[g·rows + r] += Σ_s P(g, r, s) (and squares[g·rows + r] += Σ_s P(g, r, s)², if given) over
 * the panels P of `groups` matrices of `rows` variables over S samples, each in sample order.
 */
function addRowSums(sums: Float64Array, P: Float64Array, groups: number, rows: number, S: number, squares?: Float64Array): void {
  for (let g = 0; g < groups; g++) {
    for (let r0 = 0; r0 < rows; r0 += 4) {
      const lanes = Math.min(4, rows - r0), at = g * rows + r0, p0 = panelIndex(g, r0, 0, rows, S);
      for (let l = 0; l < lanes; l++) {
        let a = sums[at + l], b = squares ? squares[at + l] : 0;
        for (let s = 0, p = p0 + l; s < S; s++, p += 4) { const v = P[p]; a += v; b += v * v; }
        sums[at + l] = a;
        if (squares) squares[at + l] = b;
      }
    }
  }
}
