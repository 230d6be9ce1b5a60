// TensorFlow.js plug-in: swaps the conv kernels of the cpu and wasm backends for DSConv layers.
// Each distinct filter tensor is quantized once (keyed by its dataId, which reshapes and the
// variables of layers models share) and the DSConv2d built for each geometry is kept until
// restore(). tfjs is never imported here: the caller passes its namespace, so this module works
// with '@tensorflow/tfjs' or with '@tensorflow/tfjs-core' plus backends, whichever the app has.
import { DSConv2d, Conv2d, type DSConvOptions } from './layer.js';
import { quantizeWeights, packedWeightBytes, type BlockMode } from './quantize.js';
import { rt } from './wasm.js';
import { int, oneOf, or, object, describe } from './validate.js';
import { decodeBundle, encodeBundle, type BundleLayer } from './bundle.js';
import { crc32 } from './serialize.js';

/** The kernels replaced. */
export const KERNELS = ['Conv2D', 'FusedConv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2D'] as const;
export type KernelName = typeof KERNELS[number];

/** Quantization settings of one layer. */
export interface QuantSettings {
  /** Weight bits b, 2..8. Default 4. */
  bits: number;
  /** B, input channels per scale. Default 32. */
  blockSize: number;
  /** Activation mantissa bits m, 2..8. Default 8. */
  mantissaBits: number;
  /** Depthwise weight blocks: 'channels' (one scale per weight) or 'taps' (one per channel). Default 'channels'. */
  depthwiseBlocks: BlockMode;
}

/** What the per-layer rule is told about a conv. */
export interface LayerInfo {
  /** Order in which the plug-in first met this filter (execution order of the first run). */
  index: number;
  /** The weight's name when `options.model` was given and holds it. */
  name?: string;
  kind: 'conv' | 'depthwise';
  /** The TF filter shape: HWIO for convs, [kh, kw, inChannels, multiplier] for depthwise. */
  filterShape: number[];
  inChannels: number;
  outChannels: number;
}

export interface UseDSConvOptions extends Partial<QuantSettings> {
  /** Backends whose kernels are replaced. Default ['cpu', 'wasm']. */
  backends?: string[];
  /**
   * Per-layer rule: return false to keep the layer float, settings to override the defaults for
   * it, or true/undefined for the defaults. E.g. `({ index }) => index > 0` keeps the first conv float.
   */
  layers?: (info: LayerInfo) => boolean | Partial<QuantSettings> | undefined | void;
  /** A layers model or graph model whose weights name the layers (for `layers` and bundles). */
  model?: unknown;
  /**
   * Run this package's float32 Conv2d instead of DSConv in every replaced layer: the same
   * plumbing with float arithmetic, to check it against tfjs or to time the quantization alone.
   */
  float?: boolean;
  /** A bundle written by `DSConvPlugin.toBundle()` / `dsconv quantize`: its VQK, KDS and CDS are used as they are. */
  bundle?: Uint8Array;
}

/** One quantized (or kept-float) conv as the plug-in holds it. */
export interface PluginLayer {
  readonly info: LayerInfo;
  /** null when the rule kept the layer float. */
  readonly settings: QuantSettings | null;
  /** VQK (Int8Array, OIHW) and KDS in use; null when float. */
  readonly q: Int8Array | null;
  readonly scales: Float32Array | null;
  /** CDS per output channel, when set. */
  readonly gamma?: Float32Array;
  readonly delta?: Float32Array;
  /** Calls since the plug-in was installed. */
  readonly calls: number;
}

/** What a conv call looks like to an observer (calibration). */
export interface ConvCall {
  layer: PluginLayer;
  /** The float OIHW weights. */
  weights: Float32Array;
  /** DSConv options for this call (geometry, bias, quantization; activation 'none' for tfjs-only ones). */
  options: DSConvOptions;
  /** NHWC or NCHW input, and its shape. */
  input: Float32Array;
  shape: { batch: number; height: number; width: number; layout: 'NHWC' | 'NCHW' };
}

export interface DSConvPlugin {
  /** The layers met so far, in the order they were met. */
  readonly layers: readonly PluginLayer[];
  /** Puts the original kernels back and frees the DSConv layers. Idempotent. */
  restore(): void;
  /** Replaces a layer's VQK/KDS (same shapes) and/or CDS; its DSConv2d layers are rebuilt on the next call. */
  update(layer: PluginLayer, change: { q?: Int8Array; scales?: Float32Array; gamma?: Float32Array | null; delta?: Float32Array | null }): void;
  /** Total weight storage of the quantized convs against float32 (all convs met). */
  weightBytes(): { packed: number; float32: number; floatLayers: number };
  /**
   * Calls `fn` with every conv call (before it runs) while set; its return value, when a
   * Float32Array, is used as the layer's pre-activation output instead of the DSConv result.
   */
  observe(fn: ((call: ConvCall) => Float32Array | void) | null): void;
  /** Every layer met so far (VQK, KDS, CDS, settings) as a bundle for `useDSConv(tf, { bundle })`. */
  toBundle(meta?: Record<string, unknown>): Uint8Array;
}

// Minimal structural types for the parts of tfjs this module touches.
interface TensorInfo { dataId: object; shape: number[]; dtype: string }
interface Backend {
  readSync(dataId: object): unknown;
  typedArrayFromHeap?(t: TensorInfo): ArrayLike<number>;
  makeTensorInfo?(shape: number[], dtype: string, values: Float32Array): TensorInfo;
  makeOutput?(shape: number[], dtype: string, memoryOffset?: undefined, values?: Float32Array): TensorInfo;
}
interface KernelConfig {
  kernelName: string;
  backendName: string;
  kernelFunc: (args: { inputs: Record<string, TensorInfo | undefined>; backend: Backend; attrs?: Record<string, unknown> }) => TensorInfo;
  setupFunc?: unknown;
  disposeFunc?: unknown;
}
interface Conv2DInfoLike {
  outHeight: number; outWidth: number; strideHeight: number; strideWidth: number;
  dilationHeight: number; dilationWidth: number; filterHeight: number; filterWidth: number;
  padInfo: { top: number; bottom: number; left: number; right: number };
}
/** The part of the tfjs namespace the plug-in uses. */
export interface TfLike {
  getKernel(name: string, backend: string): KernelConfig | undefined;
  registerKernel(config: KernelConfig): void;
  unregisterKernel(name: string, backend: string): void;
  backend_util: { computeConv2DInfo(...args: unknown[]): Conv2DInfoLike };
}

interface Entry extends PluginLayer {
  info: LayerInfo;
  settings: QuantSettings | null;
  q: Int8Array | null;
  scales: Float32Array | null;
  gamma?: Float32Array;
  delta?: Float32Array;
  calls: number;
  weights: Float32Array; // OIHW float
  built: Map<string, DSConv2d | Conv2d>;
}

const DEFAULTS: QuantSettings = { bits: 4, blockSize: 32, mantissaBits: 8, depthwiseBlocks: 'channels' };
// Activations the DSConv epilogue fuses; the others tfjs fuses are applied here afterwards.
const FUSED = new Set(['linear', 'relu', 'relu6']);

let active: { tf: TfLike; restore: () => void } | null = null;

/**
 * Replaces the Conv2D, FusedConv2D, DepthwiseConv2dNative and FusedDepthwiseConv2D kernels of the
 * given backends (registered in `tf`) with DSConv. Call after `await init()`. Only one plug-in
 * can be active at a time; `restore()` the previous one first.
 */
export function useDSConv(tf: TfLike, options: UseDSConvOptions = {}): DSConvPlugin {
  rt(); // init() must have run: the kernels below cannot await it
  if (typeof tf !== 'object' || tf === null || typeof tf.getKernel !== 'function' || typeof tf.registerKernel !== 'function'
    || typeof tf.unregisterKernel !== 'function' || typeof tf.backend_util?.computeConv2DInfo !== 'function') {
    throw new TypeError(`tf must be the TensorFlow.js namespace (with getKernel, registerKernel, unregisterKernel, backend_util), got ${describe(tf)}`);
  }
  if (active) throw new Error('useDSConv is already active; call restore() on the plug-in first');
  const o = object('options', options);
  const defaults: QuantSettings = parseSettings('options', o, DEFAULTS);
  const backends = o.backends === undefined ? ['cpu', 'wasm'] : o.backends;
  if (!Array.isArray(backends) || backends.some((b) => typeof b !== 'string')) {
    throw new TypeError(`options.backends must be an array of backend names, got ${describe(backends)}`);
  }
  if (o.layers !== undefined && typeof o.layers !== 'function') {
    throw new TypeError(`options.layers must be a function (info) => boolean | settings, got ${describe(o.layers)}`);
  }
  const rule = o.layers as UseDSConvOptions['layers'];
  if (o.float !== undefined && typeof o.float !== 'boolean') throw new TypeError(`options.float must be a boolean, got ${describe(o.float)}`);
  const floatMode = o.float === true;
  const names = weightNames(o.model);
  const bundle = o.bundle === undefined ? null : decodeBundle(o.bundle as Uint8Array);

  const byData = new WeakMap<object, Entry>();
  const ids = new WeakMap<object, number>(); // bias dataId -> small number for the layer keys
  let nextId = 1;
  const idOf = (o: object) => {
    let id = ids.get(o);
    if (id === undefined) ids.set(o, id = nextId++);
    return id;
  };
  const entries: Entry[] = [];
  let observer: ((call: ConvCall) => Float32Array | void) | null = null;
  const originals: KernelConfig[] = [];

  function entryFor(filter: TensorInfo, backend: Backend, depthwise: boolean): Entry {
    const known = byData.get(filter.dataId);
    if (known && sameShape(known.info.filterShape, filter.shape)) return known;
    const [kh, kw, cin, last] = filter.shape;
    const info: LayerInfo = {
      index: entries.length, kind: depthwise ? 'depthwise' : 'conv', filterShape: [...filter.shape],
      inChannels: cin, outChannels: depthwise ? cin * last : last,
    };
    const name = names.get(filter.dataId);
    if (name !== undefined) info.name = name;
    const weights = toOIHW(readFloat(backend, filter), kh, kw, cin, last, depthwise);
    let settings: QuantSettings | null;
    let q: Int8Array | null = null;
    let scales: Float32Array | null = null;
    let gamma: Float32Array | undefined;
    let delta: Float32Array | undefined;
    if (bundle) {
      const b = matchBundle(bundle.layers, info, weightsCrc(weights));
      settings = b.settings;
      if (b.q) ({ q, scales } = b as { q: Int8Array; scales: Float32Array });
      gamma = b.gamma; delta = b.delta;
    } else {
      const r = rule ? rule({ ...info, filterShape: [...info.filterShape] }) : undefined;
      settings = r === false ? null
        : typeof r === 'object' && r !== null ? parseSettings(`options.layers(${info.index})`, r as Record<string, unknown>, defaults)
          : defaults;
      if (settings) {
        if (settings.depthwiseBlocks === 'taps' && !depthwise) settings = { ...settings, depthwiseBlocks: 'channels' };
        const g = depthwise ? info.inChannels : 1;
        const qw = quantizeWeights(weights, { outChannels: info.outChannels, groupChannels: info.inChannels / g, kh, kw },
          settings.bits, settings.blockSize, settings.depthwiseBlocks);
        q = qw.q; scales = qw.scales;
      }
    }
    const e: Entry = { info, settings, q, scales, gamma, delta, calls: 0, weights, built: new Map() };
    byData.set(filter.dataId, e);
    entries.push(e);
    return e;
  }

  function replacement(orig: KernelConfig, depthwise: boolean): KernelConfig {
    const kernelFunc: KernelConfig['kernelFunc'] = (args) => {
      const { inputs, backend, attrs = {} } = args;
      const x = inputs.x!, filter = inputs.filter!;
      const activation = String(attrs.activation ?? 'linear');
      const nchw = attrs.dataFormat === 'NCHW';
      if (x.dtype !== 'float32' || filter.dtype !== 'float32' || filter.shape.length !== 4 || x.shape.length !== 4) return orig.kernelFunc(args);
      const e = entryFor(filter, backend, depthwise);
      e.calls++;
      if (!e.settings) return orig.kernelFunc(args);
      const [batch, h, w] = nchw ? [x.shape[0], x.shape[2], x.shape[3]] : x.shape;
      const info = tf.backend_util.computeConv2DInfo(
        x.shape, filter.shape, attrs.strides ?? 1, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, depthwise,
        nchw ? 'channelsFirst' : 'channelsLast');
      const pad = info.padInfo;
      // tfjs passes its bias broadcastable to the output; only per-channel (or scalar) bias is fused.
      let bias: Float32Array | undefined;
      if (inputs.bias) {
        const bv = readFloat(backend, inputs.bias);
        if (bv.length === e.info.outChannels) bias = bv;
        else if (bv.length === 1) bias = new Float32Array(e.info.outChannels).fill(bv[0]);
        else return orig.kernelFunc(args);
      }
      let prelu: Float32Array | undefined;
      if (activation === 'prelu') {
        prelu = readFloat(backend, inputs.preluActivationWeights!).slice(); // a copy: the heap may move
        if (prelu.length !== 1 && prelu.length !== e.info.outChannels) return orig.kernelFunc(args);
      }
      const s = e.settings;
      const options: DSConvOptions = {
        inChannels: e.info.inChannels, outChannels: e.info.outChannels, kernelSize: [info.filterHeight, info.filterWidth],
        stride: [info.strideHeight, info.strideWidth], dilation: [info.dilationHeight, info.dilationWidth],
        padding: [pad.top, pad.left, pad.bottom, pad.right], groups: depthwise ? e.info.inChannels : 1,
        bias, activation: activation === 'relu' || activation === 'relu6' ? activation : 'none',
        bits: s.bits, blockSize: s.blockSize, mantissaBits: s.mantissaBits, depthwiseBlocks: s.depthwiseBlocks,
      };
      const layout = nchw ? 'NCHW' : 'NHWC';
      const input = readFloat(backend, x);
      const shape = { batch, height: h, width: w, layout } as const;
      const outShape = nchw ? [batch, e.info.outChannels, info.outHeight, info.outWidth] : [batch, info.outHeight, info.outWidth, e.info.outChannels];
      let out: Float32Array | undefined;
      if (observer) {
        const r = observer({ layer: e, weights: e.weights, options: { ...options, activation: 'none' }, input, shape });
        if (r instanceof Float32Array) out = applyActivation(r, activation, e.info.outChannels, nchw ? info.outHeight * info.outWidth : 1, nchw, attrs, prelu);
      }
      if (!out) {
        const layer = built(e, options, floatMode, inputs.bias ? idOf(inputs.bias.dataId) : 0);
        let result: TensorInfo | undefined;
        if (typeof backend.typedArrayFromHeap === 'function' && typeof backend.makeOutput === 'function') {
          // wasm backend: the layer writes straight into the output tensor's heap. Allocating it
          // may grow that heap and detach earlier views, so the input is read again after.
          result = backend.makeOutput(outShape, 'float32');
          out = layer.forward(readFloat(backend, x), shape, backend.typedArrayFromHeap(result) as Float32Array);
        } else {
          out = layer.forward(input, shape);
        }
        if (!FUSED.has(activation)) applyActivation(out, activation, e.info.outChannels, info.outHeight * info.outWidth, nchw, attrs, prelu);
        if (result) return result;
      }
      return makeOutput(backend, outShape, out);
    };
    return { ...orig, kernelFunc };
  }

  for (const backendName of backends as string[]) {
    for (const name of KERNELS) {
      const orig = tf.getKernel(name, backendName);
      if (!orig) continue;
      tf.unregisterKernel(name, backendName);
      tf.registerKernel(replacement(orig, name.includes('Depthwise')));
      originals.push(orig);
    }
  }
  if (originals.length === 0) throw new RangeError(`options.backends: none of ${JSON.stringify(backends)} has conv kernels registered; import the backend first`);

  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    for (const orig of originals) {
      tf.unregisterKernel(orig.kernelName, orig.backendName);
      tf.registerKernel(orig);
    }
    for (const e of entries) dropBuilt(e);
    active = null;
  };
  active = { tf, restore };

  return {
    get layers() { return entries.slice(); },
    restore,
    update(layer, change) {
      const e = entries.find((x) => x === layer);
      if (!e) throw new RangeError('layer must be one of this plug-in\'s layers');
      if (!e.settings) throw new RangeError(`layer ${e.info.index} is kept float; it has no quantized weights to update`);
      const c = object('change', change);
      if (c.q !== undefined) {
        if (!(c.q instanceof Int8Array) || c.q.length !== e.q!.length) throw new TypeError(`change.q must be an Int8Array of length ${e.q!.length}, got ${describe(c.q)}`);
        e.q = c.q.slice();
      }
      if (c.scales !== undefined) {
        if (!(c.scales instanceof Float32Array) || c.scales.length !== e.scales!.length) throw new TypeError(`change.scales must be a Float32Array of length ${e.scales!.length}, got ${describe(c.scales)}`);
        e.scales = c.scales.slice();
      }
      for (const k of ['gamma', 'delta'] as const) {
        const v = c[k];
        if (v === undefined) continue;
        if (v === null) { e[k] = undefined; continue; }
        if (!(v instanceof Float32Array) || v.length !== e.info.outChannels) throw new TypeError(`change.${k} must be a Float32Array of length ${e.info.outChannels} or null, got ${describe(v)}`);
        e[k] = v.slice();
      }
      dropBuilt(e);
    },
    weightBytes() {
      let packed = 0, float32 = 0, floatLayers = 0;
      for (const e of entries) {
        float32 += e.weights.length * 4;
        if (!e.q) { packed += e.weights.length * 4; floatLayers++; continue; }
        packed += packedWeightBytes(e.q.length, e.settings!.bits) + e.scales!.byteLength
          + (e.gamma ? e.gamma.byteLength : 0) + (e.delta ? e.delta.byteLength : 0);
      }
      return { packed, float32, floatLayers };
    },
    toBundle(meta = {}) {
      if (entries.length === 0) throw new RangeError('toBundle: no conv has run yet; run the model once (e.g. predict on one input) first');
      return encodeBundle({
        meta,
        layers: entries.map((e) => ({
          index: e.info.index, name: e.info.name, kind: e.info.kind, filterShape: e.info.filterShape,
          weightsCrc: weightsCrc(e.weights), settings: e.settings, q: e.q ?? undefined, scales: e.scales ?? undefined,
          gamma: e.gamma, delta: e.delta,
        })),
      });
    },
    observe(fn) {
      if (fn !== null && typeof fn !== 'function') throw new TypeError(`observe needs a function or null, got ${describe(fn)}`);
      observer = fn;
    },
  };
}

/** The layer for this call's geometry, built on first use from the entry's VQK/KDS/CDS. */
function built(e: Entry, options: DSConvOptions, float: boolean, biasKey: number): DSConv2d | Conv2d {
  // The geometry and which bias tensor: enough to tell the calls of one filter apart.
  const key = `${options.stride},${options.dilation},${options.padding},${options.activation},${biasKey}`;
  let layer = e.built.get(key);
  if (!layer) {
    layer = float ? new Conv2d(e.weights, options)
      : DSConv2d.fromQuantized({ q: e.q!, scales: e.scales! }, { ...options, gamma: e.gamma, delta: e.delta });
    e.built.set(key, layer);
  }
  return layer;
}

function dropBuilt(e: Entry): void {
  for (const l of e.built.values()) l.dispose();
  e.built.clear();
}

function parseSettings(name: string, o: Record<string, unknown>, base: QuantSettings): QuantSettings {
  return {
    bits: int(`${name}.bits`, or(o.bits, base.bits), 2, 8),
    blockSize: int(`${name}.blockSize`, or(o.blockSize, base.blockSize), 1, 65536),
    mantissaBits: int(`${name}.mantissaBits`, or(o.mantissaBits, base.mantissaBits), 2, 8),
    depthwiseBlocks: oneOf(`${name}.depthwiseBlocks`, or(o.depthwiseBlocks, base.depthwiseBlocks), ['channels', 'taps'] as const),
  };
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * The tensor's values. On the wasm backend a view of its heap (no copy): callers use it before
 * tfjs allocates again. Elsewhere what readSync gives.
 */
function readFloat(backend: Backend, t: TensorInfo): Float32Array {
  if (typeof backend.typedArrayFromHeap === 'function' && t.dtype === 'float32') return backend.typedArrayFromHeap(t) as Float32Array;
  const v = backend.readSync(t.dataId);
  if (v instanceof Float32Array) return v;
  return Float32Array.from(v as ArrayLike<number>);
}

function makeOutput(backend: Backend, shape: number[], values: Float32Array): TensorInfo {
  if (typeof backend.makeTensorInfo === 'function') return backend.makeTensorInfo(shape, 'float32', values);
  return backend.makeOutput!(shape, 'float32', undefined, values);
}

/**
 * TF filter to OIHW: conv HWIO [kh][kw][cin][cout] -> [cout][cin][kh][kw]; depthwise
 * [kh][kw][cin][mult] -> [cin*mult][1][kh][kw] (output channel c*mult + m, as tfjs orders them).
 */
export function toOIHW(f: Float32Array, kh: number, kw: number, cin: number, last: number, depthwise: boolean): Float32Array {
  const out = new Float32Array(f.length);
  const taps = kh * kw;
  for (let t = 0; t < taps; t++) {
    for (let c = 0; c < cin; c++) {
      for (let k = 0; k < last; k++) {
        const v = f[(t * cin + c) * last + k];
        if (depthwise) out[(c * last + k) * taps + t] = v;
        else out[(k * cin + c) * taps + t] = v;
      }
    }
  }
  return out;
}

/** Applies a tfjs fused activation in place (for those the DSConv epilogue does not fuse). */
function applyActivation(y: Float32Array, act: string, channels: number, plane: number, nchw: boolean,
  attrs: Record<string, unknown>, prelu?: Float32Array): Float32Array {
  const ch = (i: number) => nchw ? Math.floor(i / plane) % channels : i % channels;
  switch (act) {
    case 'linear': return y;
    case 'relu': for (let i = 0; i < y.length; i++) y[i] = y[i] < 0 ? 0 : y[i]; return y;
    case 'relu6': for (let i = 0; i < y.length; i++) y[i] = y[i] < 0 ? 0 : y[i] > 6 ? 6 : y[i]; return y;
    case 'elu': for (let i = 0; i < y.length; i++) y[i] = y[i] >= 0 ? y[i] : Math.exp(y[i]) - 1; return y;
    case 'sigmoid': for (let i = 0; i < y.length; i++) y[i] = 1 / (1 + Math.exp(-y[i])); return y;
    case 'leakyrelu': {
      const a = Number(attrs.leakyreluAlpha ?? 0.2);
      for (let i = 0; i < y.length; i++) if (y[i] < 0) y[i] *= a;
      return y;
    }
    case 'prelu':
      for (let i = 0; i < y.length; i++) if (y[i] < 0) y[i] *= prelu!.length === 1 ? prelu![0] : prelu![ch(i)];
      return y;
    default: throw new RangeError(`fused activation '${act}' is not supported by the DSConv plug-in`);
  }
}

/** dataId -> weight name, from a layers model (`weights[i].val`) or a graph model (`weights[name][0]`). */
function weightNames(model: unknown): Map<object, string> {
  const m = new Map<object, string>();
  if (model === undefined) return m;
  if (typeof model !== 'object' || model === null) throw new TypeError(`options.model must be a tfjs LayersModel or GraphModel, got ${describe(model)}`);
  const w = (model as { weights?: unknown }).weights;
  if (Array.isArray(w)) {
    for (const v of w as { name?: string; originalName?: string; val?: { dataId: object }; read?: () => { dataId: object } }[]) {
      const t = v.val ?? (v.read ? v.read() : undefined);
      if (t && typeof v.name === 'string') m.set(t.dataId, v.originalName ?? v.name);
    }
  } else if (w && typeof w === 'object') {
    for (const [name, ts] of Object.entries(w as Record<string, { dataId: object }[]>)) {
      if (Array.isArray(ts) && ts[0]) m.set(ts[0].dataId, name);
    }
  } else {
    throw new TypeError('options.model must be a tfjs LayersModel or GraphModel (it has no weights)');
  }
  return m;
}

function weightsCrc(w: Float32Array): number {
  return crc32(new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
}

function matchBundle(layers: BundleLayer[], info: LayerInfo, crc: number): BundleLayer {
  const b = info.name !== undefined ? layers.find((l) => l.name === info.name) : layers[info.index];
  const what = info.name !== undefined ? `weight ${JSON.stringify(info.name)}` : `conv #${info.index}`;
  if (!b) throw new RangeError(`bundle does not match this model: it has no layer for ${what} (${info.kind} ${JSON.stringify(info.filterShape)}); was it made from another model?`);
  if (b.kind !== info.kind || !sameShape(b.filterShape, info.filterShape)) {
    throw new RangeError(`bundle does not match this model: ${what} is ${info.kind} ${JSON.stringify(info.filterShape)} here but ${b.kind} ${JSON.stringify(b.filterShape)} in the bundle`);
  }
  if (b.weightsCrc !== crc) throw new RangeError(`bundle does not match this model: the float weights of ${what} differ from those the bundle was made from`);
  return b;
}

// The rest of the TF.js side that runs anywhere; the Node-only file helpers are in `dsconv/files`.
export { calibrate, type CalibrateOptions, type CalibrationReport, type LayerStats, type CalibrationMethod } from './calibrate.js';
export { decodeBundle, encodeBundle, BUNDLE_VERSION, type Bundle, type BundleLayer } from './bundle.js';
