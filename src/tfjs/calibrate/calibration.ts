// The state of one calibration between batches: per conv, its running statistics and current
// fit; per batch, the float targets of the float pass until the quantized pass uses them.
import type { QuantSettings } from '../../core/options.js';
import type { ConvCall, DSConvPlugin, PluginLayer } from '../types.js';
import type { CalibrationMethod, CalibrationProgress, LayerStats } from './types.js';
import { type Dims, layerDims } from './dims.js';
import { InputStats, TargetStats } from './stats.js';
import { panelsLength, slicePanels } from '../../core/moments.js';
import { PanelScratch, columns, floatConv, gatherOutput, gatherPixels, pixelDigest, positions, sampledTargets, weightPanels } from './samples.js';
import { type FitInput, type Fitted, fitLayer, quality } from './fit.js';

export interface Settings {
  methods: readonly CalibrationMethod[];
  target: 'network' | 'layer';
  samples: number;
  seed: number;
  count: number;
  onProgress?: (p: CalibrationProgress) => void;
}

interface Layer {
  entry: PluginLayer;
  index: number;
  d: Dims;
  settings: QuantSettings;
  weights: Float32Array;
  q0: Int8Array;
  xi0: Float32Array;
  /** A copy: on the wasm backend the call's is a view of the tfjs heap, which growing detaches. */
  bias?: Float32Array;
  input?: InputStats;
  target: TargetStats;
  /** Float targets of this batch, in call order (target 'network'). */
  queue: { S: number; T: Float64Array }[];
  /** Images before this batch, and in this pass of it. */
  images: number;
  passImages: number;
  fit?: Fitted;
  fits: number;
  fittedAt: number;
}

/**
 * A conv is refitted before a call once its statistics have grown this much since its last fit:
 * three fits for 8 batches, four for 32. Refitting on every doubling cost a third more and gave
 * MobileNetV2 no better result (docs/BENCHMARKS.md#calibration).
 */
const REFIT_GROWTH = 4;

/**
 * Convs with more inputs per group than this are fitted once, on the call that brings their last
 * images: a fit costs them seconds (the factorisation grows as the cube), and the convs after
 * them, fitted to the float conv on their own input, hardly depend on it.
 */
const REFIT_MAX_INPUTS = 2304;

export class Calibration {
  private readonly layers = new Map<PluginLayer, Layer>();
  private phase: 'float' | 'quantized' | 'final' = 'float';
  private batch = 0;
  private images = 0;
  private batchImages = 0;
  private passLayers = new Set<Layer>();
  /** Per geometry, input shape and first image, the digest of the sampled pixels of the last conv of this pass that read them. */
  private seen = new Map<string, { digest: string; stats: InputStats }>();
  private readonly panels = new PanelScratch();
  private readonly patches = new PanelScratch();

  constructor(private readonly plugin: DSConvPlugin, private readonly s: Settings) {}

  begin(phase: 'float' | 'quantized', batchImages: number): void {
    this.phase = phase;
    this.batchImages = batchImages;
    this.passLayers.clear();
    this.seen.clear();
    for (const l of this.layers.values()) l.passImages = 0;
  }

  /** Float pass: the float layer's output, its targets at the sampled positions kept for the quantized pass. */
  float(call: ConvCall): Float32Array {
    const l = this.layer(call);
    const y = floatConv(call);
    const pos = this.positions(l, call);
    l.queue.push({ S: pos.length, T: gatherOutput(call, y, pos, l.d) });
    this.progress(l);
    return y;
  }

  /**
   * Quantized pass: adds this call's sampled inputs and targets to the layer's statistics and,
   * when they have grown REFIT_GROWTH-fold since its last fit (or it has none), or this call
   * brings the last of the `count` images, refits it on everything so far before it runs: about
   * log4(calls) fits whatever the batches, the last of them on every image, so the convs after it
   * see its final fit in the last batch too (returns nothing, so the plug-in runs the DSConv layer
   * just installed).
   */
  quantized(call: ConvCall): undefined {
    const l = this.layer(call);
    const first = l.images + l.passImages;
    const pos = this.positions(l, call);
    // Target 'network': the float pass's outputs at these positions; 'layer': the float conv's,
    // computed at the sampled positions only, from the patches (a slice at a time, below).
    let T: Float64Array | undefined;
    let W: Float64Array | undefined;
    if (this.s.target === 'network') {
      const kept = l.queue.shift();
      if (!kept || kept.S !== pos.length) throw new Error(`calibrate: conv ${l.index} ran differently in the float and the quantized pass of batch ${this.batch}; the model must run the same convs on the same images each time`);
      T = kept.T;
    } else {
      W = weightPanels(l.weights, l.d);
    }
    const own = this.inputs(l, call, first, pixelDigest(call, pos));
    // In slices of positions, so the patches and their columns stay small however many
    // positions a call has; the sums take the positions in the same order either way.
    const S = pos.length, slice = slicePositions(l.d);
    for (let a = 0; a < S; a += slice) {
      const b = Math.min(S, a + slice), p = pos.subarray(a, b);
      const px = gatherPixels(call, p);
      const Ts = W ? sampledTargets(px, b - a, l.d, W, call.options.bias, this.patches) : b - a === S ? T! : slicePanels(T!, S, a, b);
      const X = columns(px, b - a, l.d, l.settings.blockSize, l.settings.mantissaBits, this.panels);
      if (own) l.input!.add(X, b - a);
      l.target.add(X, Ts, b - a);
    }
    const n = l.target.n, last = l.images + l.passImages === this.s.count;
    const due = last || l.fits === 0 || n >= REFIT_GROWTH * l.fittedAt;
    if (n > 0 && due && (last || l.d.D <= REFIT_MAX_INPUTS)) this.refit(l);
    this.progress(l);
    return undefined;
  }

  end(): void {
    for (const l of this.layers.values()) {
      if (l.queue.length) throw new Error(`calibrate: conv ${l.index} ran in the float pass of batch ${this.batch} but not in its quantized pass`);
      l.images += l.passImages;
    }
    this.images += this.batchImages;
    this.batch++;
  }

  /** The last fits (of convs the images ran out on before `count`, if any) and the report. */
  finish(): LayerStats[] {
    this.phase = 'final';
    this.passLayers.clear();
    const order = [...this.layers.values()].sort((a, b) => a.index - b.index);
    const out: LayerStats[] = [];
    for (const l of order) {
      if (l.target.n > 0 && l.fittedAt !== l.target.n) this.refit(l);
      this.progress(l);
      const f = l.fit ?? { q: l.q0, scales: l.xi0, applied: [] };
      const qy = l.target.n > 0 ? quality(this.fitInput(l), f, l.fittedAt) : null;
      const nan = new Float32Array(l.d.C).fill(NaN);
      const stats: LayerStats = {
        index: l.index, sqnrBefore: qy?.sqnrBefore ?? NaN, sqnrAfter: qy?.sqnrAfter ?? NaN,
        floatMean: qy?.floatMean ?? nan, floatStd: qy?.floatStd ?? nan, quantMean: qy?.quantMean ?? nan, quantStd: qy?.quantStd ?? nan,
        samples: l.target.n, images: l.images, applied: f.applied, fits: l.fits,
      };
      if (l.entry.info.name !== undefined) stats.name = l.entry.info.name;
      if (l.input && l.input.owner !== l.index) stats.sharedWith = l.input.owner;
      out.push(stats);
    }
    return out;
  }

  get batches(): number { return this.batch; }
  get imageCount(): number { return this.images; }

  private layer(call: ConvCall): Layer {
    let l = this.layers.get(call.layer);
    if (l) return l;
    const e = call.layer;
    if (!e.settings || !e.q || !e.scales) throw new Error(`calibrate: conv ${e.info.index} has no quantized weights`);
    l = {
      entry: e, index: e.info.index, d: layerDims(call.options, e.settings), settings: e.settings, weights: call.weights,
      q0: e.q.slice(), xi0: e.scales.slice(), bias: call.options.bias?.slice(), target: undefined as unknown as TargetStats,
      queue: [], images: 0, passImages: 0, fits: 0, fittedAt: -1,
    };
    l.target = new TargetStats(l.d);
    this.layers.set(e, l);
    return l;
  }

  private positions(l: Layer, call: ConvCall): Int32Array {
    const first = l.images + l.passImages;
    l.passImages += call.shape.batch;
    return positions(call, first, this.s.samples, this.s.count, this.s.seed);
  }

  /**
   * Whether this call's inputs are to be added to the layer's input statistics: not if an earlier
   * conv of this pass read the same pixels at the same positions (an Inception block's
   * branches), which then shares its InputStats with this one. Sharing is settled in the first batch.
   */
  private inputs(l: Layer, call: ConvCall, first: number, digest: string): boolean {
    const o = call.options, sh = call.shape;
    const key = [o.kernelSize, o.stride, o.dilation, o.padding, o.groups ?? 1, o.inChannels, sh.height, sh.width, sh.batch, sh.layout,
      l.settings.blockSize, l.settings.mantissaBits, first].join('|');
    const seen = this.seen.get(key);
    const same = seen !== undefined && seen.digest === digest;
    if (!l.input) {
      if (same) { l.input = seen.stats; return false; }
      l.input = new InputStats(l.d.groups, l.d.D, l.index);
    } else if (l.input.owner !== l.index) {
      if (same && seen.stats === l.input) return false;
      throw new Error(`calibrate: conv ${l.index} read the same input as conv ${l.input.owner} in the first batch but not in batch ${this.batch}; the model must run the same way on every batch`);
    }
    this.seen.set(key, { digest, stats: l.input });
    return true;
  }

  private fitInput(l: Layer): FitInput {
    return {
      d: l.d, settings: l.settings, methods: this.s.methods, weights: l.weights, q0: l.q0, xi0: l.xi0, bias: l.bias,
      input: l.input!, target: l.target,
    };
  }

  private refit(l: Layer): void {
    const f = fitLayer(this.fitInput(l));
    l.fit = f;
    l.fits++;
    l.fittedAt = l.target.n;
    this.plugin.update(l.entry, { q: f.q, scales: f.scales, gamma: f.gamma ?? null, delta: f.delta ?? null });
  }

  private progress(l: Layer): void {
    if (!this.s.onProgress) return;
    this.passLayers.add(l);
    this.s.onProgress({
      phase: this.phase, target: this.s.target, batch: this.batch, images: this.images, batchImages: this.phase === 'final' ? 0 : this.batchImages,
      count: this.s.count, layer: l.index, layersDone: this.passLayers.size, layers: this.plugin.layers.length,
    });
  }
}

/**
 * Positions per slice of a call: at most 1024, and fewer where a position's patch, its BFP values,
 * its columns in panels (float64 padded to 4 per group) and its patch as sampledTargets packs it
 * pass 16 KiB, so a slice holds at most 16 MiB (a depthwise conv on 960 channels: 230 KiB a position).
 */
function slicePositions(d: Dims): number {
  const bytes = 8 * d.taps * d.Cin + 8 * panelsLength(d.groups, d.D, 1) + 8 * d.groups * d.D;
  return Math.max(1, Math.min(1024, Math.floor(2 ** 24 / bytes)));
}
