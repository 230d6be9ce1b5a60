// 'scales': least-squares refit of the KDS given the integers, from the running statistics.
import type { Dims } from './dims.js';
import { choleskySolve } from './linalg.js';

/**
 * One output channel's sums in terms of its blocks: with a_k = Σ_(j in block k) q_j·x̂_j the
 * output per unit of block k's scale (so the DSConv output is Σ_k ξ_k·a_k + bias),
 * G = Σ a aᵀ (K x K), r = Σ a·t and a1 = Σ a over the sampled positions, from H, R and m.
 */
export interface Moments { G: Float64Array; r: Float64Array; a1: Float64Array }

export function newMoments(K: number): Moments {
  return { G: new Float64Array(K * K), r: new Float64Array(K), a1: new Float64Array(K) };
}

/** Fills `out` for output channel o with integers q; H (made whole), R and m from the statistics. */
export function channelMoments(o: number, q: Int8Array, d: Dims, H: Float64Array, m: Float64Array, R: Float64Array, out: Moments, qv: Float64Array): void {
  const { D, K, runs, scaleOf } = d;
  const g = Math.floor(o / d.Og), h0 = g * D * D, m0 = g * D, r0 = o * D;
  const { G, r, a1 } = out;
  G.fill(0); r.fill(0); a1.fill(0);
  for (let j = 0; j < D; j++) qv[j] = q[o * D + d.weightAt[j]];
  for (let i = 0; i < D; i++) {
    const qi = qv[i], ki = scaleOf[i];
    r[ki] += qi * R[r0 + i];
    a1[ki] += qi * m[m0 + i];
  }
  // G[κ(i)][κ(j)] += q_i·H_ij·q_j, four rows of H at a time sharing each load of q. G is
  // symmetric: only the blocks κ(j) >= the rows' smallest κ(i) are summed, the rest mirrored
  // after (what lands below the diagonal meanwhile is overwritten).
  const D4 = D & ~3;
  for (let i = 0; i < D4; i += 4) {
    const p0 = h0 + i * D, p1 = p0 + D, p2 = p1 + D, p3 = p2 + D;
    const k0 = scaleOf[i], k1 = scaleOf[i + 1], k2 = scaleOf[i + 2], k3 = scaleOf[i + 3];
    const low = Math.min(k0, k1, k2, k3);
    const g0 = k0 * K, g1 = k1 * K, g2 = k2 * K, g3 = k3 * K;
    const q0 = qv[i], q1 = qv[i + 1], q2 = qv[i + 2], q3 = qv[i + 3];
    for (let u = 0; u < runs.length; u += 3) {
      const e = runs[u + 1], k = runs[u + 2];
      if (k < low) continue;
      let v0 = 0, v1 = 0, v2 = 0, v3 = 0;
      for (let j = runs[u]; j < e; j++) {
        const x = qv[j];
        v0 += H[p0 + j] * x; v1 += H[p1 + j] * x; v2 += H[p2 + j] * x; v3 += H[p3 + j] * x;
      }
      G[g0 + k] += q0 * v0; G[g1 + k] += q1 * v1; G[g2 + k] += q2 * v2; G[g3 + k] += q3 * v3;
    }
  }
  for (let i = D4; i < D; i++) {
    const qi = qv[i], row = h0 + i * D, ki = scaleOf[i], gk = ki * K;
    for (let u = 0; u < runs.length; u += 3) {
      if (runs[u + 2] < ki) continue;
      const e = runs[u + 1];
      let v = 0;
      for (let j = runs[u]; j < e; j++) v += H[row + j] * qv[j];
      G[gk + runs[u + 2]] += qi * v;
    }
  }
  for (let a = 1; a < K; a++) for (let b = 0; b < a; b++) G[a * K + b] = G[b * K + a];
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
