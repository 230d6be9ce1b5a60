// The shape of one layer's fit, shared by the methods: channels, groups, and where each input
// column's weight and block scale are.
import type { DSConvOptions, QuantSettings } from '../../core/options.js';

/**
 * A group's D = C_g·taps input columns are ordered tap-major (j = t·C_g + c), as the sampled
 * patches are. Output channel o's weight of column j is at o·D + weightAt[j] in the OIHW
 * weights (and VQK), its block scale at scaleBase(o) + scaleOf[j] in the KDS.
 */
export interface Dims {
  C: number; Cin: number; groups: number; Cg: number; Og: number; taps: number; D: number;
  /** Scales per output channel. */
  K: number;
  weightAt: Int32Array;
  scaleOf: Int32Array;
  scaleBase: (o: number) => number;
  /** Runs of consecutive columns sharing a scale: [start, end, scale] triples. */
  runs: Int32Array;
}

export function layerDims(o: DSConvOptions, s: QuantSettings): Dims {
  const C = o.outChannels, Cin = o.inChannels, groups = o.groups ?? 1;
  const Cg = Cin / groups, Og = C / groups;
  const [kh, kw] = o.kernelSize as [number, number];
  const taps = kh * kw, D = Cg * taps;
  const tapsMode = s.depthwiseBlocks === 'taps' && Cg === 1;
  const nB = tapsMode ? 1 : Math.ceil(Cg / s.blockSize);
  const K = tapsMode ? 1 : nB * taps;
  const weightAt = new Int32Array(D), scaleOf = new Int32Array(D);
  for (let t = 0; t < taps; t++) {
    for (let c = 0; c < Cg; c++) {
      weightAt[t * Cg + c] = c * taps + t;
      scaleOf[t * Cg + c] = tapsMode ? 0 : Math.floor(c / s.blockSize) * taps + t;
    }
  }
  const runs: number[] = [];
  for (let j = 0; j < D;) {
    let e = j + 1;
    while (e < D && scaleOf[e] === scaleOf[j]) e++;
    runs.push(j, e, scaleOf[j]);
    j = e;
  }
  return {
    C, Cin, groups, Cg, Og, taps, D, K, weightAt, scaleOf, runs: Int32Array.from(runs),
    scaleBase: tapsMode ? (oc) => oc : (oc) => oc * nB * taps,
  };
}
