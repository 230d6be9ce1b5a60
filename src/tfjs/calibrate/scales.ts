// 'scales': least-squares refit of the KDS given the integers.
import type { Dims } from './dims.js';
import { choleskySolve } from './linalg.js';

/**
 * Per output channel o, the least-squares ξ over its blocks: the design column of block k at a
 * sample is Σ_(c in k) q·x̂, the target y − bias. Ridge towards the data-free ξ keeps blocks the
 * sample barely excites where they were.
 */
export function refitScales(q: Int8Array, scales: Float32Array, px: Float32Array, yT: Float32Array, S: number,
  d: Dims & { nScalesPerO: number; bias?: Float32Array }): Float32Array {
  const { C, Cin, Cg, Og, taps, nScalesPerO: K } = d;
  const out = scales.slice();
  const A = new Float64Array(S * K);
  const qt = new Float64Array(taps * Cg); // q of one output channel, [tap][channel]
  const key = new Int32Array(taps * Cg);  // its scale, relative to the channel's first
  for (let o = 0; o < C; o++) {
    const g = Math.floor(o / Og);
    const base = d.scaleIndex(o, 0, 0);
    for (let c = 0; c < Cg; c++) for (let t = 0; t < taps; t++) {
      qt[t * Cg + c] = q[(o * Cg + c) * taps + t];
      key[t * Cg + c] = d.scaleIndex(o, c, t) - base;
    }
    A.fill(0);
    for (let s = 0; s < S; s++) {
      const row = s * K;
      for (let t = 0; t < taps; t++) {
        const xp = (s * taps + t) * Cin + g * Cg;
        const qp = t * Cg;
        // Runs of channels share a scale (a block); sum each run, then add it once.
        let c = 0;
        while (c < Cg) {
          const k = key[qp + c];
          let acc = 0;
          for (; c < Cg && key[qp + c] === k; c++) acc += qt[qp + c] * px[xp + c];
          A[row + k] += acc;
        }
      }
    }
    const G = new Float64Array(K * K), r = new Float64Array(K);
    const b = d.bias ? d.bias[o] : 0;
    for (let s = 0; s < S; s++) {
      const row = s * K;
      const y = yT[s * C + o] - b;
      for (let i = 0; i < K; i++) {
        const ai = A[row + i];
        if (ai === 0) continue;
        r[i] += ai * y;
        for (let j = i; j < K; j++) G[i * K + j] += ai * A[row + j];
      }
    }
    let tr = 0;
    for (let i = 0; i < K; i++) tr += G[i * K + i];
    const lambda = 1e-3 * tr / K + 1e-30;
    for (let i = 0; i < K; i++) {
      for (let j = 0; j < i; j++) G[i * K + j] = G[j * K + i];
      G[i * K + i] += lambda;
      r[i] += lambda * scales[base + i];
    }
    const sol = choleskySolve(G, r, K);
    if (sol) for (let i = 0; i < K; i++) out[base + i] = sol[i];
  }
  return out;
}
