// One layer's fit from its running statistics: the methods in the order rounding, scales, cds,
// and the statistics of the report, all without running the layer.
import type { QuantSettings } from '../../core/options.js';
import type { CalibrationMethod, LayerStats } from './types.js';
import type { Dims } from './dims.js';
import type { InputStats, TargetStats } from './stats.js';
import { MAX_HESSIAN, gptqRoundGroup } from './rounding.js';
import { LayerMoments, outputSums, refitChannel } from './scales.js';
import { fitCds } from './cds.js';

export interface FitInput {
  d: Dims;
  settings: QuantSettings;
  methods: readonly CalibrationMethod[];
  /** Float OIHW weights, the data-free VQK and KDS, the bias. */
  weights: Float32Array;
  q0: Int8Array;
  xi0: Float32Array;
  bias?: Float32Array;
  input: InputStats;
  target: TargetStats;
}

export interface Fitted {
  q: Int8Array;
  scales: Float32Array;
  gamma?: Float32Array;
  delta?: Float32Array;
  applied: CalibrationMethod[];
  /** Per channel Σy, Σy², Σy·t of the output before the CDS, when the fit computed them. */
  sums?: Float64Array;
}

/** Fits VQK, KDS and CDS to the statistics so far. */
export function fitLayer(f: FitInput): Fitted {
  const { d, methods, input, target } = f;
  const { C, K, D } = d;
  input.prepare();
  const q = f.q0.slice();
  const scales = f.xi0.slice();
  const applied: CalibrationMethod[] = [];
  if (methods.includes('rounding') && D <= MAX_HESSIAN) {
    for (let g = 0; g < d.groups; g++) {
      const U = input.factor(g);
      if (U) gptqRoundGroup(f.weights, q, scales, U, g, d, f.settings.bits);
    }
    applied.push('rounding');
  }
  const refit = methods.includes('scales'), cds = methods.includes('cds');
  if (!refit && !cds) return { q, scales, applied };
  const moments = new LayerMoments(q, d, input.H, input.m, target.R);
  const gamma = new Float32Array(C), delta = new Float32Array(C), sums = new Float64Array(3 * C);
  for (let o = 0; o < C; o++) {
    const b = f.bias ? f.bias[o] : 0, base = d.scaleBase(o);
    const mo = moments.channel(o);
    if (refit) {
      const xi = refitChannel(mo, K, b, f.xi0, base);
      if (xi) for (let k = 0; k < K; k++) scales[base + k] = xi[k];
    }
    const y = outputSums(mo, K, scales, base, b, target.n, target.st[o]);
    sums[3 * o] = y.sy; sums[3 * o + 1] = y.syy; sums[3 * o + 2] = y.syt;
    if (cds) {
      const c = fitCds(y.sy, y.syy, y.syt, target.st[o], target.n);
      gamma[o] = c.gamma; delta[o] = c.delta;
    }
  }
  if (refit) applied.push('scales');
  if (!cds) return { q, scales, applied, sums };
  applied.push('cds');
  return { q, scales, gamma, delta, applied, sums };
}

export type Quality = Pick<LayerStats, 'sqnrBefore' | 'sqnrAfter' | 'floatMean' | 'floatStd' | 'quantMean' | 'quantStd'>;

/**
 * SQNR against the targets at the sampled positions of the data-free layer and of the fitted one,
 * and per channel the mean and standard deviation of target and fitted output, from the sums
 * (the fit's own when it was made on these statistics).
 */
export function quality(f: FitInput, fit: Fitted, fitN: number): Quality {
  const { d, input, target } = f;
  const { C, K } = d;
  const n = target.n;
  input.prepare();
  const before = new LayerMoments(f.q0, d, input.H, input.m, target.R);
  const after = fit.sums !== undefined && fitN === n ? undefined : new LayerMoments(fit.q, d, input.H, input.m, target.R);
  const floatMean = new Float32Array(C), floatStd = new Float32Array(C), quantMean = new Float32Array(C), quantStd = new Float32Array(C);
  let sig = 0, errBefore = 0, errAfter = 0;
  const std = (s: number, ss: number) => Math.sqrt(Math.max(0, ss / n - (s / n) ** 2));
  for (let o = 0; o < C; o++) {
    const b = f.bias ? f.bias[o] : 0, base = d.scaleBase(o);
    const st = target.st[o], stt = target.stt[o];
    sig += stt;
    floatMean[o] = st / n; floatStd[o] = std(st, stt);
    const y0 = outputSums(before.channel(o), K, f.xi0, base, b, n, st);
    errBefore += Math.max(0, stt - 2 * y0.syt + y0.syy);
    let y: { sy: number; syy: number; syt: number };
    if (after) {
      y = outputSums(after.channel(o), K, fit.scales, base, b, n, st);
    } else {
      y = { sy: fit.sums![3 * o], syy: fit.sums![3 * o + 1], syt: fit.sums![3 * o + 2] };
    }
    // With the CDS, y' = γy + δ.
    const g = fit.gamma ? fit.gamma[o] : 1, dl = fit.delta ? fit.delta[o] : 0;
    const sy = g * y.sy + n * dl, syy = g * g * y.syy + 2 * g * dl * y.sy + n * dl * dl, syt = g * y.syt + dl * st;
    errAfter += Math.max(0, stt - 2 * syt + syy);
    quantMean[o] = sy / n; quantStd[o] = std(sy, syy);
  }
  const db = (e: number) => e === 0 ? Infinity : 10 * Math.log10(sig / e);
  return { sqnrBefore: db(errBefore), sqnrAfter: db(errAfter), floatMean, floatStd, quantMean, quantStd };
}
