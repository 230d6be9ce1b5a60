// One layer's calibration: the methods in the order rounding, scales, cds.
import { DSConv2d } from '../../core/layers/dsconv2d.js';
import { sqnrDb } from '../../core/sqnr.js';
import type { DSConvPlugin, ConvCall } from '../types.js';
import type { CalibrationMethod, LayerStats } from './types.js';
import { floatConv, gather, outputNhwc, patches } from './samples.js';
import { MAX_HESSIAN, gptqRound } from './rounding.js';
import { refitScales } from './scales.js';
import { fitCds } from './cds.js';

export interface Fit { stats: LayerStats; output: Float32Array }

/**
 * Fits one layer's VQK/KDS/CDS to its targets at the sampled positions, installs them in the
 * plug-in, and returns its statistics and its calibrated pre-activation output.
 */
export function fitLayer(plugin: DSConvPlugin, call: ConvCall, methods: readonly CalibrationMethod[], target: 'network' | 'layer',
  kept: { pos: Int32Array; y: Float32Array }): Fit {
  const e = call.layer;
  const opts = call.options;
  const C = opts.outChannels, Cin = opts.inChannels, groups = opts.groups ?? 1;
  const Cg = Cin / groups, Og = C / groups;
  const [kh, kw] = opts.kernelSize as [number, number];
  const taps = kh * kw;
  const settings = e.settings!;
  const pos = kept.pos;
  const S = pos.length;
  const bias = opts.bias;

  // Target at the sampled positions, pre-activation, bias included.
  const yT = target === 'network' ? kept.y : gather(outputNhwc(call, floatConv(call)), pos, C);

  // Patches of the BFP-dequantized input at the sampled positions: [S][taps][Cin].
  const px = patches(call, pos, settings.blockSize, settings.mantissaBits);

  let q: Int8Array = e.q!.slice();
  let scales: Float32Array = e.scales!.slice();
  const tapsMode = settings.depthwiseBlocks === 'taps';
  const nB = tapsMode ? 1 : Math.ceil(Cg / settings.blockSize);
  const scaleIndex = (o: number, c: number, t: number) => tapsMode ? o : (o * nB + Math.floor(c / settings.blockSize)) * taps + t;

  const quantOut = (qq: Int8Array, sc: Float32Array, gamma?: Float32Array, delta?: Float32Array) => {
    const layer = DSConv2d.fromQuantized({ q: qq, scales: sc }, { ...opts, gamma, delta });
    try {
      return layer.forward(call.input, { ...call.shape, outputLayout: call.shape.layout });
    } finally {
      layer.dispose();
    }
  };
  const nhwcOut = (y: Float32Array) => outputNhwc(call, y);
  const before = gather(nhwcOut(quantOut(q, scales)), pos, C);
  const applied: CalibrationMethod[] = [];

  if (methods.includes('rounding') && Cg * taps <= MAX_HESSIAN) {
    q = gptqRound(call.weights, q, scales, px, S, { C, Cin, Cg, Og, groups, taps, bits: settings.bits, scaleIndex });
    applied.push('rounding');
  }
  if (methods.includes('scales')) {
    scales = refitScales(q, scales, px, yT, S, { C, Cin, Cg, Og, taps, nScalesPerO: tapsMode ? 1 : nB * taps, scaleIndex, bias });
    applied.push('scales');
  }
  let gamma: Float32Array | undefined, delta: Float32Array | undefined;
  let out = applied.length ? quantOut(q, scales) : null;
  if (methods.includes('cds')) {
    const yq = out ? gather(nhwcOut(out), pos, C) : before;
    ({ gamma, delta } = fitCds(yq, yT, S, C));
    out = quantOut(q, scales, gamma, delta);
    applied.push('cds');
  }
  plugin.update(e, { q, scales, gamma: gamma ?? null, delta: delta ?? null });
  const final = out ?? quantOut(q, scales);
  const after = gather(nhwcOut(final), pos, C);

  const stat = (y: Float32Array) => {
    const mean = new Float32Array(C), std = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      let s1 = 0, s2 = 0;
      for (let s = 0; s < S; s++) { const v = y[s * C + c]; s1 += v; s2 += v * v; }
      mean[c] = s1 / S;
      std[c] = Math.sqrt(Math.max(0, s2 / S - (s1 / S) ** 2));
    }
    return [mean, std];
  };
  const [floatMean, floatStd] = stat(yT);
  const [quantMean, quantStd] = stat(after);
  const stats: LayerStats = {
    index: e.info.index, sqnrBefore: sqnrDb(yT, before), sqnrAfter: sqnrDb(yT, after),
    floatMean, floatStd, quantMean, quantStd, samples: S, applied,
  };
  if (e.info.name !== undefined) stats.name = e.info.name;
  return { stats, output: final };
}
