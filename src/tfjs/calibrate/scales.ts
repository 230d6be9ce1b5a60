// 'scales': least-squares refit of the KDS given the integers, from the running statistics.
import type { Dims } from './dims.js';
import { blockQuadforms } from '../../core/moments.js';
import { choleskySolve } from './linalg.js';

/**
 * One output channel's sums in terms of its blocks: with a_k = Σ_(j in block k) q_j·x̂_j the
 * output per unit of block k's scale (so the DSConv output is Σ_k ξ_k·a_k + bias),
 * G = Σ a aᵀ (K x K), r = Σ a·t and a1 = Σ a over the sampled positions, from H, R and m.
 */
export interface Moments { G: Float64Array; r: Float64Array; a1: Float64Array }

/** Every channel's moments for integers q, [C][K][K], [C][K] and [C][K]: the channel's own are `channel()`. */
export class LayerMoments {
  readonly G: Float64Array;
  readonly r: Float64Array;
  readonly a1: Float64Array;

  /** From H (made whole), m and R of the statistics. */
  constructor(q: Int8Array, private readonly d: Dims, H: Float64Array, m: Float64Array, R: Float64Array) {
    const { C, D, K, Og, runs, scaleOf, weightAt } = d;
    const Q = new Float64Array(C * D);
    for (let o = 0; o < C; o++) for (let j = 0; j < D; j++) Q[o * D + j] = q[o * D + weightAt[j]];
    this.G = blockQuadforms(H, Q, runs, scaleOf, C, D, K, Og);
    this.r = new Float64Array(C * K);
    this.a1 = new Float64Array(C * K);
    for (let o = 0; o < C; o++) {
      const m0 = Math.floor(o / Og) * D, r0 = o * D, k0 = o * K;
      for (let i = 0; i < D; i++) {
        const qi = Q[r0 + i], ki = k0 + scaleOf[i];
        this.r[ki] += qi * R[r0 + i];
        this.a1[ki] += qi * m[m0 + i];
      }
    }
  }

  channel(o: number): Moments {
    const K = this.d.K;
    return { G: this.G.subarray(o * K * K, (o + 1) * K * K), r: this.r.subarray(o * K, (o + 1) * K), a1: this.a1.subarray(o * K, (o + 1) * K) };
  }
}

/**
 * The least-squares ξ of one channel, Σ (t − bias − Σ ξ_k a_k)² with a ridge towards the
 * data-free ξ0 (1e-3 of G's mean diagonal), which keeps blocks the sample barely excites where
 * they were; null if the system is singular.
 */
export function refitChannel(mo: Moments, K: number, bias: number, xi0: Float32Array, base: number): Float64Array | null {
  const { G, r, a1 } = mo;
  let tr = 0;
  for (let i = 0; i < K; i++) tr += G[i * K + i];
  const lambda = 1e-3 * tr / K + 1e-30;
  const A = G.slice(), b = new Float64Array(K);
  for (let i = 0; i < K; i++) {
    A[i * K + i] += lambda;
    b[i] = r[i] - bias * a1[i] + lambda * xi0[base + i];
  }
  return choleskySolve(A, b, K);
}

/** Σ y, Σ y², Σ y·t of one channel's output y = Σ ξ_k a_k + bias over its n positions. */
export function outputSums(mo: Moments, K: number, xi: Float32Array, base: number, bias: number, n: number, st: number): { sy: number; syy: number; syt: number } {
  const { G, r, a1 } = mo;
  let quad = 0, lin = 0, cross = 0;
  for (let i = 0; i < K; i++) {
    const xa = xi[base + i];
    lin += xa * a1[i];
    cross += xa * r[i];
    let v = 0;
    for (let j = 0; j < K; j++) v += G[i * K + j] * xi[base + j];
    quad += xa * v;
  }
  return { sy: lin + n * bias, syy: quad + 2 * bias * lin + n * bias * bias, syt: cross + bias * st };
}
