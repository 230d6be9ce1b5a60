// Calibration with unlabelled inputs, through the TF.js plug-in. Two passes over one batch:
// 1. float: every replaced conv runs this package's float32 Conv2d; at a fixed, seeded sample of
//    output positions per layer the pre-activation outputs are kept (the float network's targets);
// 2. quantized, layer by layer in execution order: each conv sees the outputs of the calibrated
//    quantized layers before it, and before it runs, its parameters are fitted to the float targets
//    at its sampled positions:
//    - 'rounding': data-aware choice of the VQK integers, error-compensating in the manner of
//      GPTQ/OBQ (columns quantized in turn, the error of each spread over the columns not yet
//      quantized through the inverse Hessian of the layer's inputs), with the KDS held fixed;
//    - 'scales': least-squares refit of every KDS ξ of an output channel jointly (ridge towards
//      the data-free ξ) given the integers;
//    - 'cds': the CDS γ, δ per output channel, least squares.
//    All stay within the DSConv format: b-bit VQK, one ξ per block, an affine per channel.
import { Conv2d, DSConv2d, type DSConvOptions } from './layer.js';
import type { DSConvPlugin, PluginLayer, ConvCall } from './tfjs.js';
import { roundHalfAwayFromZero } from './reference.js';
import { int, object, oneOf, or, describe } from './validate.js';

export type CalibrationMethod = 'cds' | 'scales' | 'rounding';

export interface CalibrateOptions {
  /** What to fit, applied in the order rounding, scales, cds. Default ['rounding', 'scales', 'cds']. */
  methods?: CalibrationMethod[];
  /**
   * 'network' (default): each layer is fitted to the float network's outputs at that layer, so it
   * also corrects the error of the layers before it; 'layer': to the float layer on the same input.
   */
  target?: 'network' | 'layer';
  /** Output positions sampled per layer for the fits. Default 4096. */
  samples?: number;
  /** Seed of the position sampling. Default 1. */
  seed?: number;
  /** Called after each layer is calibrated. */
  onLayer?: (stats: LayerStats) => void;
}

/** Per-layer statistics at the sampled positions (pre-activation, float vs quantized). */
export interface LayerStats {
  index: number;
  name?: string;
  /** SQNR (dB) of the data-free DSConv layer and of the calibrated one, against the target. */
  sqnrBefore: number;
  sqnrAfter: number;
  /** Per output channel: mean and standard deviation of the target and of the calibrated output. */
  floatMean: Float32Array;
  floatStd: Float32Array;
  quantMean: Float32Array;
  quantStd: Float32Array;
  /** Positions used. */
  samples: number;
  /** Methods actually applied (rounding is skipped above MAX_HESSIAN inputs per group). */
  applied: CalibrationMethod[];
}

export interface CalibrationReport {
  layers: LayerStats[];
  images: number;
}

/** A model the plug-in runs: a tfjs LayersModel/GraphModel (`predict`) or a function. */
export type Runnable = { predict(x: unknown): unknown } | ((x: unknown) => unknown);

/** Largest inputs per group (C_g·kh·kw) for which the rounding builds its Hessian. */
export const MAX_HESSIAN = 2304;

/**
 * Calibrates the layers of an active plug-in on `images` (a tensor batch the model accepts, e.g.
 * [N, H, W, 3]): fits VQK/KDS/CDS per the options and installs them in the plug-in. Returns the
 * per-layer statistics. The plug-in's layers must not already be calibrated (start from data-free).
 */
export async function calibrate(plugin: DSConvPlugin, model: Runnable, images: unknown, options: CalibrateOptions = {}): Promise<CalibrationReport> {
  if (!plugin || typeof plugin.observe !== 'function') throw new TypeError(`plugin must be the value useDSConv returned, got ${describe(plugin)}`);
  const run = typeof model === 'function' ? model : model && typeof (model as { predict?: unknown }).predict === 'function'
    ? (x: unknown) => (model as { predict(x: unknown): unknown }).predict(x) : null;
  if (!run) throw new TypeError(`model must be a tfjs model (with predict) or a function, got ${describe(model)}`);
  const shape = (images as { shape?: number[] })?.shape;
  if (!Array.isArray(shape) || shape.length < 1) throw new TypeError(`images must be a tf.Tensor batch, got ${describe(images)}`);
  const o = object('options', options);
  const methods = (o.methods === undefined ? ['rounding', 'scales', 'cds'] : o.methods) as unknown[];
  if (!Array.isArray(methods)) throw new TypeError(`options.methods must be an array of 'cds', 'scales', 'rounding', got ${describe(methods)}`);
  methods.forEach((m, i) => oneOf(`options.methods[${i}]`, m, ['cds', 'scales', 'rounding'] as const));
  const target = oneOf('options.target', or(o.target, 'network'), ['network', 'layer'] as const);
  const samples = int('options.samples', or(o.samples, 4096), 1);
  const seed = int('options.seed', or(o.seed, 1), 0, 2 ** 31);
  if (o.onLayer !== undefined && typeof o.onLayer !== 'function') throw new TypeError(`options.onLayer must be a function, got ${describe(o.onLayer)}`);

  const targets = new Map<PluginLayer, { pos: Int32Array; y: Float32Array }>();
  const report: LayerStats[] = [];
  const dispose = (t: unknown) => {
    for (const v of Array.isArray(t) ? t : [t]) (v as { dispose?: () => void })?.dispose?.();
  };

  // Pass 1: float network; keep the targets at the sampled positions.
  plugin.observe((call) => {
    const y = floatConv(call);
    if (!targets.has(call.layer)) {
      const pos = positions(call, samples, seed + call.layer.info.index);
      targets.set(call.layer, { pos, y: gather(outputNhwc(call, y), pos, call.options.outChannels) });
    }
    return y;
  });
  try {
    dispose(await Promise.resolve(run(images)));
    // Pass 2: quantized, fitting each layer when it first runs.
    const done = new Set<PluginLayer>();
    plugin.observe((call) => {
      if (done.has(call.layer) || !call.layer.settings) return undefined;
      done.add(call.layer);
      const stats = fitLayer(plugin, call, methods as CalibrationMethod[], target, targets.get(call.layer)!, samples, seed);
      report.push(stats.stats);
      (o.onLayer as CalibrateOptions['onLayer'])?.(stats.stats);
      return stats.output;
    });
    dispose(await Promise.resolve(run(images)));
  } finally {
    plugin.observe(null);
  }
  return { layers: report, images: shape[0] };
}

/** The float layer's pre-activation output, in the call's layout. */
function floatConv(call: ConvCall): Float32Array {
  const layer = new Conv2d(call.weights, call.options);
  try {
    return layer.forward(call.input, call.shape);
  } finally {
    layer.dispose();
  }
}

function outSize(o: DSConvOptions, h: number, w: number): [number, number] {
  const [kh, kw] = o.kernelSize as [number, number];
  const [sy, sx] = o.stride as [number, number];
  const [dy, dx] = o.dilation as [number, number];
  const [t, l, b, r] = o.padding as number[];
  return [Math.floor((h + t + b - dy * (kh - 1) - 1) / sy) + 1, Math.floor((w + l + r - dx * (kw - 1) - 1) / sx) + 1];
}

/** Seeded sample of output positions (flat n·oh·ow + y·ow + x), all of them when fewer than asked. */
function positions(call: ConvCall, count: number, seed: number): Int32Array {
  const [oh, ow] = outSize(call.options, call.shape.height, call.shape.width);
  const total = call.shape.batch * oh * ow;
  if (total <= count) return Int32Array.from({ length: total }, (_, i) => i);
  let s = seed >>> 0;
  const next = () => { // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const picked = new Set<number>();
  while (picked.size < count) picked.add(Math.floor(next() * total));
  return Int32Array.from([...picked].sort((a, b) => a - b));
}

/** A layer output of this call as NHWC. */
function outputNhwc(call: ConvCall, y: Float32Array): Float32Array {
  if (call.shape.layout === 'NHWC') return y;
  const [oh, ow] = outSize(call.options, call.shape.height, call.shape.width);
  return toNhwcOut(y, call.shape.batch, call.options.outChannels, oh * ow);
}

function gather(y: Float32Array, pos: Int32Array, c: number): Float32Array {
  const out = new Float32Array(pos.length * c);
  for (let s = 0; s < pos.length; s++) out.set(y.subarray(pos[s] * c, pos[s] * c + c), s * c);
  return out;
}

function toNhwc(call: ConvCall): Float32Array {
  if (call.shape.layout === 'NHWC') return call.input;
  const { batch, height, width } = call.shape;
  const c = call.options.inChannels, hw = height * width;
  const out = new Float32Array(call.input.length);
  for (let n = 0; n < batch; n++) for (let k = 0; k < c; k++) for (let p = 0; p < hw; p++) out[(n * hw + p) * c + k] = call.input[(n * c + k) * hw + p];
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** DSCONV.md's BFP of one pixel's channels, dequantized, blocks of B inside each group. */
function bfpPixel(x: Float32Array, at: number, c: number, groups: number, blockSize: number, m: number, out: Float32Array): void {
  const cg = c / groups;
  const mmax = 2 ** (m - 1) - 1;
  for (let g = 0; g < groups; g++) {
    for (let c0 = 0; c0 < cg; c0 += blockSize) {
      const c1 = Math.min(c0 + blockSize, cg);
      let E = -1000;
      for (let k = c0; k < c1; k++) {
        f32[0] = x[at + g * cg + k];
        const field = (u32[0] >>> 23) & 255;
        if (field !== 0 && field - 127 > E) E = field - 127;
      }
      for (let k = c0; k < c1; k++) {
        const v = x[at + g * cg + k];
        f32[0] = v;
        if (E === -1000 || ((u32[0] >>> 23) & 255) === 0) { out[g * cg + k] = 0; continue; }
        const M = Math.min(mmax, Math.max(-mmax, roundHalfAwayFromZero(v * 2 ** (m - 2 - E))));
        out[g * cg + k] = M * 2 ** (E - m + 2);
      }
    }
  }
}

interface Fit { stats: LayerStats; output: Float32Array }

function fitLayer(plugin: DSConvPlugin, call: ConvCall, methods: CalibrationMethod[], target: 'network' | 'layer',
  kept: { pos: Int32Array; y: Float32Array }, _samples: number, _seed: number): Fit {
  const e = call.layer;
  const opts = call.options;
  const C = opts.outChannels, Cin = opts.inChannels, groups = opts.groups ?? 1;
  const Cg = Cin / groups, Og = C / groups;
  const [kh, kw] = opts.kernelSize as [number, number];
  const taps = kh * kw;
  const settings = e.settings!;
  const x = toNhwc(call);
  const { height: H, width: W } = call.shape;
  const [oh, ow] = outSize(opts, H, W);
  const [sy, sx] = opts.stride as [number, number];
  const [dy, dx] = opts.dilation as [number, number];
  const [pt, pl] = opts.padding as number[];
  const pos = kept.pos;
  const S = pos.length;
  const bias = opts.bias;

  // Target at the sampled positions, pre-activation, bias included.
  const yT = target === 'network' ? kept.y : gather(outputNhwc(call, floatConv(call)), pos, C);

  // Patches of the BFP-dequantized input at the sampled positions: [S][taps][Cin].
  const px = new Float32Array(S * taps * Cin);
  const pixel = new Float32Array(Cin);
  const cache = new Map<number, Float32Array>();
  for (let s = 0; s < S; s++) {
    const p = pos[s];
    const n = Math.floor(p / (oh * ow)), oy = Math.floor((p % (oh * ow)) / ow), ox = p % ow;
    for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
      const iy = oy * sy - pt + i * dy, ix = ox * sx - pl + j * dx;
      if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
      const at = (n * H + iy) * W + ix;
      let v = cache.get(at);
      if (!v) {
        bfpPixel(x, at * Cin, Cin, groups, settings.blockSize, settings.mantissaBits, pixel);
        v = pixel.slice();
        cache.set(at, v);
      }
      px.set(v, (s * taps + i * kw + j) * Cin);
    }
  }

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
    index: e.info.index, sqnrBefore: sqnr(yT, before), sqnrAfter: sqnr(yT, after),
    floatMean, floatStd, quantMean, quantStd, samples: S, applied,
  };
  if (e.info.name !== undefined) stats.name = e.info.name;
  return { stats, output: final };
}

function toNhwcOut(y: Float32Array, batch: number, c: number, hw: number): Float32Array {
  const out = new Float32Array(y.length);
  for (let n = 0; n < batch; n++) for (let k = 0; k < c; k++) for (let p = 0; p < hw; p++) out[(n * hw + p) * c + k] = y[(n * c + k) * hw + p];
  return out;
}

function sqnr(ref: Float32Array, test: Float32Array): number {
  let s = 0, e = 0;
  for (let i = 0; i < ref.length; i++) { s += ref[i] * ref[i]; e += (ref[i] - test[i]) ** 2; }
  return e === 0 ? Infinity : 10 * Math.log10(s / e);
}

interface Dims {
  C: number; Cin: number; Cg: number; Og: number; taps: number;
  scaleIndex: (o: number, c: number, t: number) => number;
}

/**
 * Per output channel o, the least-squares ξ over its blocks: the design column of block k at a
 * sample is Σ_(c in k) q·x̂, the target y − bias. Ridge towards the data-free ξ keeps blocks the
 * sample barely excites where they were.
 */
function refitScales(q: Int8Array, scales: Float32Array, px: Float32Array, yT: Float32Array, S: number,
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

/** Solves G x = r for symmetric positive definite G (K x K, row-major); null if not SPD. */
function choleskySolve(G: Float64Array, r: Float64Array, K: number): Float64Array | null {
  const L = cholesky(G, K);
  if (!L) return null;
  const z = new Float64Array(K);
  for (let i = 0; i < K; i++) {
    let v = r[i];
    for (let k = 0; k < i; k++) v -= L[i * K + k] * z[k];
    z[i] = v / L[i * K + i];
  }
  for (let i = K - 1; i >= 0; i--) {
    let v = z[i];
    for (let k = i + 1; k < K; k++) v -= L[k * K + i] * z[k];
    z[i] = v / L[i * K + i];
  }
  return z;
}

/** Lower Cholesky factor of a symmetric positive definite matrix, or null. */
function cholesky(A: Float64Array, n: number): Float64Array | null {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j];
      const li = i * n, lj = j * n;
      for (let k = 0; k < j; k++) s -= L[li + k] * L[lj + k];
      if (i === j) {
        if (!(s > 0)) return null;
        L[li + i] = Math.sqrt(s);
      } else L[li + j] = s / L[lj + j];
    }
  }
  return L;
}

/**
 * GPTQ-style rounding per group: H = Σ x̂ x̂ᵀ over the group's inputs (C_g·taps of them) at the
 * sampled positions, damped by 1% of its mean diagonal; U = the upper Cholesky factor of H⁻¹.
 * For each output channel, columns in order: q = clamp(round(w/ξ)), then the remaining weights
 * absorb the error (w − ξq)/U_jj · U_j,:. ξ (the block scales) stay as given.
 */
function gptqRound(w: Float32Array, q0: Int8Array, scales: Float32Array, px: Float32Array, S: number,
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

/**
 * U upper triangular with H⁻¹ = Uᵀ U (row-major); null if H is not SPD. With J the reversal
 * permutation and J H J = L Lᵀ, H = R Rᵀ for the upper R = J L J, so H⁻¹ = (R⁻¹)ᵀ R⁻¹ and
 * U = R⁻¹: one Cholesky and one triangular inverse.
 */
function upperCholeskyOfInverse(H: Float64Array, n: number): Float64Array | null {
  const F = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) F[i * n + j] = H[(n - 1 - i) * n + (n - 1 - j)];
  const L = cholesky(F, n);
  if (!L) return null;
  // Li = L⁻¹ (lower), by forward substitution column by column.
  const Li = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    Li[j * n + j] = 1 / L[j * n + j];
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      const li = i * n;
      for (let k = j; k < i; k++) s -= L[li + k] * Li[k * n + j];
      Li[li + j] = s / L[li + i];
    }
  }
  // R⁻¹ = J L⁻¹ J.
  const U = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) U[i * n + j] = Li[(n - 1 - i) * n + (n - 1 - j)];
  return U;
}

/** Least-squares γ, δ per channel: target ≈ γ·y + δ. */
function fitCds(y: Float32Array, t: Float32Array, S: number, C: number): { gamma: Float32Array; delta: Float32Array } {
  const gamma = new Float32Array(C), delta = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    let sy = 0, st = 0, syy = 0, syt = 0;
    for (let s = 0; s < S; s++) {
      const a = y[s * C + c], b = t[s * C + c];
      sy += a; st += b; syy += a * a; syt += a * b;
    }
    const my = sy / S, mt = st / S;
    const vy = syy / S - my * my, cv = syt / S - my * mt;
    const g = vy > 1e-12 * (syy / S) && vy > 0 ? cv / vy : 1;
    gamma[c] = g;
    delta[c] = mt - g * my;
  }
  return { gamma, delta };
}
