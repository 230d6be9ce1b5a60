// TensorFlow.js plug-in: swaps the conv kernels of the cpu and wasm backends for DSConv layers.
// Each distinct filter tensor is quantized once (keyed by its dataId, which reshapes and the
// variables of layers models share) and the DSConv2d built for each geometry is kept until
// restore(). On the wasm backend the layers live on tfjs's own heap (a guest runtime, core/
// guest.ts), so they read and write its tensors in place. tfjs is never imported here: the caller
// passes its namespace, so this module works with '@tensorflow/tfjs' or with
// '@tensorflow/tfjs-core' plus backends, whichever the app has.
import { DSConv2d } from '../core/layers/dsconv2d.js';
import { Conv2d } from '../core/layers/conv2d.js';
import { type DSConvOptions, type QuantSettings, QUANT_DEFAULTS, QUANT_KEYS, parseQuantSettings } from '../core/options.js';
import { quantizeWeights, packedWeightBytes } from '../core/quantize.js';
import { type Runtime, rt, withRuntime } from '../core/runtime.js';
import { guestRuntime } from '../core/guest.js';
import { object, describe, keysOf, knownOptions } from '../core/validate.js';
import { decodeBundle, encodeBundle, sameShape, weightsCrc, type BundleLayer } from './bundle.js';
import { findBatchNormFolds, foldBias, foldFactors, scaleRows, type BatchNormFold } from './fold.js';
import { type ActivationFold, findActivationFolds } from './fold-activation.js';
import { type PaddingFold, findPaddingFolds } from './fold-padding.js';
import { KERNELS, type Backend, type ConvCall, type DSConvPlugin, type KernelConfig, type LayerInfo, type PluginLayer, type TensorInfo, type TfLike, type UseDSConvOptions } from './types.js';
import { applyActivation, makeOutput, readFloat, toOIHW, wasmHeap } from './adapters.js';
import { coveredBackends } from './backends.js';

interface Entry extends PluginLayer {
  info: LayerInfo;
  settings: QuantSettings | null;
  q: Int8Array | null;
  scales: Float32Array | null;
  gamma?: Float32Array;
  delta?: Float32Array;
  calls: number;
  weights: Float32Array; // OIHW float, the BN folded in when folded (for a bundle's, once observed)
  /**
   * A folded bundle layer until an observer needs its float weights W·s (the bundle holds the
   * folded KDS and bias, not s): the model's fold of its BN, or null if the model shows none.
   */
  bundleFold?: BatchNormFold | null;
  weightsCrc: number; // of the filter as the model holds it (unfolded)
  foldedBatchNorm: boolean;
  bias?: Float32Array; // folded layers: s·b + t, used instead of the call's bias
  built: Map<string, DSConv2d | Conv2d>;
}

// Activations the DSConv epilogue fuses; the others tfjs fuses are applied here afterwards.
const FUSED = new Set(['linear', 'relu', 'relu6']);

let active: { tf: TfLike; restore: () => void } | null = null;

const OPTION_KEYS = keysOf<UseDSConvOptions>({
  bits: 1, blockSize: 1, mantissaBits: 1, depthwiseBlocks: 1, backends: 1, layers: 1, model: 1, float: 1, bundle: 1, foldBatchNorm: 1, foldActivation: 1, foldPadding: 1,
});
const CHANGE_KEYS = ['q', 'scales', 'gamma', 'delta'];

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
  knownOptions('options', o, OPTION_KEYS);
  const defaults: QuantSettings = parseQuantSettings('options', o, QUANT_DEFAULTS);
  const backends = coveredBackends(tf, o.backends);
  if (o.layers !== undefined && typeof o.layers !== 'function') {
    throw new TypeError(`options.layers must be a function (info) => boolean | settings, got ${describe(o.layers)}`);
  }
  const rule = o.layers as UseDSConvOptions['layers'];
  if (o.float !== undefined && typeof o.float !== 'boolean') throw new TypeError(`options.float must be a boolean, got ${describe(o.float)}`);
  const floatMode = o.float === true;
  const names = weightNames(o.model);
  const bundle = o.bundle === undefined ? null : decodeBundle(o.bundle as Uint8Array);
  // A folded bundle layer's KDS and bias already hold the BN: the float path cannot undo that.
  if (bundle && floatMode) throw new RangeError('options.float and options.bundle exclude each other: a bundle holds quantized layers');
  if (o.foldBatchNorm !== undefined && typeof o.foldBatchNorm !== 'boolean') throw new TypeError(`options.foldBatchNorm must be a boolean, got ${describe(o.foldBatchNorm)}`);
  if (o.foldBatchNorm && o.model === undefined) throw new RangeError('options.foldBatchNorm needs options.model (the LayersModel or GraphModel), to see which conv feeds which BatchNormalization');
  if (o.foldActivation !== undefined && typeof o.foldActivation !== 'boolean') throw new TypeError(`options.foldActivation must be a boolean, got ${describe(o.foldActivation)}`);
  if (o.foldActivation && o.model === undefined) throw new RangeError('options.foldActivation needs options.model (the LayersModel), to see which conv feeds which ReLU');
  if (o.foldPadding !== undefined && typeof o.foldPadding !== 'boolean') throw new TypeError(`options.foldPadding must be a boolean, got ${describe(o.foldPadding)}`);
  if (o.foldPadding && o.model === undefined) throw new RangeError('options.foldPadding needs options.model (the LayersModel), to see which ZeroPadding2D feeds which conv');
  // With a bundle, its layers say which convs carry their BN; otherwise the model's graph does.
  // The graph's folds also give a folded bundle layer its float weights W·s (calibration's and
  // observers' reference), which the bundle does not hold.
  let folds = new Map<object, BatchNormFold>();
  if (o.model !== undefined && o.foldBatchNorm !== false && (!bundle || bundle.layers.some((l) => l.foldedBatchNorm))) {
    const found = findBatchNormFolds(o.model as object);
    if (!found && o.foldBatchNorm) throw new RangeError('options.foldBatchNorm: options.model is neither a LayersModel (with layers) nor a GraphModel (with its graph)');
    if (found) folds = found;
  }
  const foldedOutputs = new WeakSet<object>(); // dataIds of folded convs' outputs: their BN is an identity
  // ReLU / ReLU6 folded into the conv before them, and the range each such conv's output has.
  const activationFolds = o.model !== undefined && o.foldActivation !== false ? findActivationFolds(o.model as object) : new Map<object, ActivationFold>();
  const clamped = new WeakMap<object, readonly [number, number]>();
  // ZeroPadding2D folded into the conv after it: the padding layer passes its input on, marked
  // (by the dataId of the tensor it returns, the input's own data) with the zeros its conv adds
  // as its own padding.
  const paddingFolds = o.model !== undefined && o.foldPadding !== false ? findPaddingFolds(o.model as object) : [];
  const pendingPads = new WeakMap<object, { filter: object; shape: number[]; pads: PaddingFold['pads'] }>();

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
  // Per backend, the guest runtime on its heap, or null: its layers copy in and out of dsconv's
  // memory. A guest runs on one thread (tfjs's memory is not shared); on more, the calls worth
  // the copies run on dsconv's own runtime, split over its workers.
  const guests = new Map<Backend, Runtime | null>();
  const guestOf = (backend: Backend): Runtime | null => {
    let g = guests.get(backend);
    if (g === undefined) {
      const heap = wasmHeap(backend);
      const made = heap && guestRuntime(heap);
      guests.set(backend, g = typeof made === 'object' ? made : null);
    }
    return g;
  };

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
    let weights = toOIHW(readFloat(backend, filter), kh, kw, cin, last, depthwise);
    const crc = weightsCrc(weights);
    let foldedBatchNorm = false;
    let bias: Float32Array | undefined;
    let settings: QuantSettings | null;
    let q: Int8Array | null = null;
    let scales: Float32Array | null = null;
    let gamma: Float32Array | undefined;
    let delta: Float32Array | undefined;
    let bundleFold: BatchNormFold | null | undefined;
    if (bundle) {
      const b = matchBundle(bundle.layers, info, crc);
      settings = b.settings;
      if (b.q) ({ q, scales } = b as { q: Int8Array; scales: Float32Array });
      gamma = b.gamma; delta = b.delta;
      if (b.foldedBatchNorm) { foldedBatchNorm = true; bias = b.bias; bundleFold = folds.get(filter.dataId) ?? null; }
    } else {
      const r = rule ? rule({ ...info, filterShape: [...info.filterShape] }) : undefined;
      const ruleName = `options.layers(${info.index})`;
      if (typeof r === 'object' && r !== null) knownOptions(ruleName, r, QUANT_KEYS);
      settings = r === false ? null
        : typeof r === 'object' && r !== null ? parseQuantSettings(ruleName, r as Record<string, unknown>, defaults)
          : defaults;
      if (settings) {
        if (settings.depthwiseBlocks === 'taps' && !depthwise) settings = { ...settings, depthwiseBlocks: 'channels' };
        const g = depthwise ? info.inChannels : 1;
        const qw = quantizeWeights(weights, { outChannels: info.outChannels, groupChannels: info.inChannels / g, kh, kw },
          settings.bits, settings.blockSize, settings.depthwiseBlocks);
        q = qw.q; scales = qw.scales;
        const fold = folds.get(filter.dataId);
        if (fold) {
          // Folded after quantizing: the VQK stays that of W, each channel's KDS takes its s.
          const f = factorsOf(fold, info.outChannels);
          weights = scaleRows(weights, f.scale);
          scales = scaleRows(scales, f.scale);
          bias = foldBias(fold.bias?.dataSync(), f);
          foldedBatchNorm = true;
        }
      }
    }
    const e: Entry = { info, settings, q, scales, gamma, delta, calls: 0, weights, bundleFold, weightsCrc: crc, foldedBatchNorm, bias, built: new Map() };
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
      const pend = pendingPads.get(x.dataId);
      const pads = pend && pend.filter === filter.dataId && sameShape(pend.shape, x.shape) ? pend.pads : undefined;
      if (pads) pendingPads.delete(x.dataId);
      // The zeros as tfjs's explicit padding: [[0, 0], [top, bottom], [left, right], [0, 0]].
      const paddings = pads && [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]];
      // The original kernel, on the padded input where the padding layer passed its input on.
      const fallback = () => {
        if (!paddings) return orig.kernelFunc(args);
        const padded = tf.getKernel('PadV2', orig.backendName)!.kernelFunc({ inputs: { x }, backend, attrs: { paddings, constantValue: 0 } }) as TensorInfo;
        try {
          return orig.kernelFunc({ ...args, inputs: { ...inputs, x: padded } });
        } finally {
          backend.disposeData!(padded.dataId);
        }
      };
      if (x.dtype !== 'float32' || filter.dtype !== 'float32' || filter.shape.length !== 4 || x.shape.length !== 4) return fallback();
      const e = entryFor(filter, backend, depthwise);
      e.calls++;
      if (!e.settings) return fallback();
      // The model's ReLU after this conv (or after its BN, when that is folded) runs here instead.
      const af = activationFolds.get(filter.dataId);
      const folded = af && activation === 'linear' && (!af.throughBatchNorm || e.foldedBatchNorm) ? af.activation : undefined;
      const act = folded ?? activation;
      const [batch, h, w] = nchw ? [x.shape[0], x.shape[2], x.shape[3]] : x.shape;
      const info = tf.backend_util.computeConv2DInfo(
        x.shape, filter.shape, attrs.strides ?? 1, attrs.dilations ?? 1, paddings ?? attrs.pad, attrs.dimRoundingMode, depthwise,
        nchw ? 'channelsFirst' : 'channelsLast');
      const pad = info.padInfo;
      // tfjs passes its bias broadcastable to the output; only per-channel (or scalar) bias is fused.
      let bias: Float32Array | undefined = e.bias;
      if (inputs.bias && !e.foldedBatchNorm) {
        const bv = readFloat(backend, inputs.bias);
        if (bv.length === e.info.outChannels) bias = bv;
        else if (bv.length === 1) bias = new Float32Array(e.info.outChannels).fill(bv[0]);
        else return fallback();
      }
      let prelu: Float32Array | undefined;
      if (activation === 'prelu') {
        prelu = readFloat(backend, inputs.preluActivationWeights!).slice(); // a copy: the heap may move
        if (prelu.length !== 1 && prelu.length !== e.info.outChannels) return fallback();
      }
      const s = e.settings;
      const options: DSConvOptions = {
        inChannels: e.info.inChannels, outChannels: e.info.outChannels, kernelSize: [info.filterHeight, info.filterWidth],
        stride: [info.strideHeight, info.strideWidth], dilation: [info.dilationHeight, info.dilationWidth],
        padding: [pad.top, pad.left, pad.bottom, pad.right], groups: depthwise ? e.info.inChannels : 1,
        bias, activation: act === 'relu' || act === 'relu6' ? act : 'none',
        bits: s.bits, blockSize: s.blockSize, mantissaBits: s.mantissaBits, depthwiseBlocks: s.depthwiseBlocks,
      };
      const layout = nchw ? 'NCHW' : 'NHWC';
      const input = readFloat(backend, x);
      const shape = { batch, height: h, width: w, layout } as const;
      const outShape = nchw ? [batch, e.info.outChannels, info.outHeight, info.outWidth] : [batch, info.outHeight, info.outWidth, e.info.outChannels];
      let out: Float32Array | undefined;
      if (observer) {
        if (e.bundleFold !== undefined) foldBundleWeights(e);
        const r = observer({ layer: e, weights: e.weights, options: { ...options, activation: 'none' }, input, shape });
        if (r instanceof Float32Array) out = applyActivation(r, act, e.info.outChannels, nchw ? info.outHeight * info.outWidth : 1, nchw, attrs, prelu);
      }
      // Folded layers keep their bias, whatever the call passes: one layer per geometry.
      const biasKey = inputs.bias && !e.foldedBatchNorm ? idOf(inputs.bias.dataId) : 0;
      const mark = (t: TensorInfo) => {
        if (e.foldedBatchNorm) foldedOutputs.add(t.dataId);
        if (folded) clamped.set(t.dataId, folded === 'relu6' ? [0, 6] : [0, Infinity]);
        return t;
      };
      if (!out) {
        // On tfjs's heap unless the workers would gain more than copying the tensors costs.
        const outFloats = outShape.reduce((a, b) => a * b, 1);
        const macs = outFloats * info.filterHeight * info.filterWidth * (depthwise ? 1 : e.info.inChannels);
        const guest = rt().splitPaysCopies(macs, 4 * (input.length + outFloats)) ? null : guestOf(backend);
        const layer = built(e, options, floatMode, biasKey, guest);
        let result: TensorInfo | undefined;
        if (typeof backend.typedArrayFromHeap === 'function' && typeof backend.makeOutput === 'function') {
          // wasm backend: the layer writes straight into the output tensor's heap. Allocating it
          // may grow that heap and detach earlier views, so the input is read again after.
          result = backend.makeOutput(outShape, 'float32');
          out = layer.forward(readFloat(backend, x), shape, backend.typedArrayFromHeap(result) as Float32Array);
        } else {
          out = layer.forward(input, shape);
        }
        if (!FUSED.has(act)) applyActivation(out, act, e.info.outChannels, info.outHeight * info.outWidth, nchw, attrs, prelu);
        if (result) return mark(result);
      }
      return mark(makeOutput(backend, outShape, out));
    };
    return { ...orig, kernelFunc };
  }

  // The BN after a folded conv returns its input, shared as tfjs's own identity kernels do.
  function batchNormReplacement(orig: KernelConfig): KernelConfig {
    const kernelFunc: KernelConfig['kernelFunc'] = (args) => {
      const x = args.inputs.x!;
      if (!foldedOutputs.has(x.dataId)) return orig.kernelFunc(args);
      args.backend.incRef!(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    };
    return { ...orig, kernelFunc };
  }

  // An activation on a folded conv's output, which already lies in the activation's range, returns it.
  function activationReplacement(orig: KernelConfig, range: (attrs: Record<string, unknown>) => [number, number]): KernelConfig {
    const kernelFunc: KernelConfig['kernelFunc'] = (args) => {
      const x = args.inputs.x!;
      const r = clamped.get(x.dataId);
      const [lo, hi] = range(args.attrs ?? {});
      if (!r || r[0] < lo || r[1] > hi) return orig.kernelFunc(args);
      args.backend.incRef!(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    };
    return { ...orig, kernelFunc };
  }

  const allReplaced = new Set<string>(); // backends on which every conv kernel is the plug-in's
  for (const backendName of backends as string[]) {
    let n = 0;
    for (const name of KERNELS) {
      const orig = tf.getKernel(name, backendName);
      if (!orig) continue;
      tf.unregisterKernel(name, backendName);
      tf.registerKernel(replacement(orig, name.includes('Depthwise')));
      originals.push(orig);
      n++;
    }
    if (n === KERNELS.length) allReplaced.add(backendName);
  }
  if (originals.length === 0) throw new RangeError(`options.backends: none of ${JSON.stringify(backends)} has conv kernels registered; import the backend first`);
  if (folds.size > 0 || bundle?.layers.some((l) => l.foldedBatchNorm)) {
    for (const backendName of backends as string[]) {
      const orig = tf.getKernel('FusedBatchNorm', backendName);
      if (!orig) continue;
      tf.unregisterKernel('FusedBatchNorm', backendName);
      tf.registerKernel(batchNormReplacement(orig));
      originals.push(orig);
    }
  }
  if (activationFolds.size > 0) {
    const ranges: Record<string, (attrs: Record<string, unknown>) => [number, number]> = {
      Relu: () => [0, Infinity], Relu6: () => [0, 6], ClipByValue: (a) => [Number(a.clipValueMin), Number(a.clipValueMax)],
    };
    for (const backendName of backends as string[]) {
      for (const [name, range] of Object.entries(ranges)) {
        const orig = tf.getKernel(name, backendName);
        if (!orig) continue;
        tf.unregisterKernel(name, backendName);
        tf.registerKernel(activationReplacement(orig, range));
        originals.push(orig);
      }
    }
  }

  // A folded padding layer passes its input on, as tf.reshape to its own shape: a new tensor on
  // the same data (tfjs-layers copies an input returned as it is, and tfjs-backend-wasm's
  // Identity copies too), while a backend whose conv kernels are all the plug-in's runs; on any
  // other it pads.
  const padCalls: [PaddingFold, PropertyDescriptor | undefined][] = [];
  const reshape = (tf as { reshape?: unknown }).reshape as ((x: TensorInfo, shape: number[]) => TensorInfo) | undefined;
  for (const f of paddingFolds) {
    const layer = f.layer as unknown as { call(inputs: unknown, kwargs: unknown): unknown };
    const own = Object.getOwnPropertyDescriptor(layer, 'call');
    const call = layer.call;
    layer.call = function (inputs: unknown, kwargs: unknown) {
      const x = (Array.isArray(inputs) && inputs.length === 1 ? inputs[0] : inputs) as TensorInfo | undefined;
      const on = tf.getBackend?.();
      if (typeof on !== 'string' || !allReplaced.has(on) || typeof reshape !== 'function' || x?.dtype !== 'float32' || x.shape.length !== 4) {
        return call.call(this, inputs, kwargs);
      }
      const y = reshape(x, x.shape);
      pendingPads.set(y.dataId, { filter: f.filter.dataId, shape: [...x.shape], pads: f.pads });
      return y;
    };
    padCalls.push([f, own]);
  }

  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    for (const orig of originals) {
      tf.unregisterKernel(orig.kernelName, orig.backendName);
      tf.registerKernel(orig);
    }
    for (const [f, own] of padCalls) {
      if (own) Object.defineProperty(f.layer, 'call', own);
      else delete (f.layer as { call?: unknown }).call;
    }
    for (const e of entries) dropBuilt(e);
    for (const g of guests.values()) g?.close();
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
      knownOptions('change', c, CHANGE_KEYS);
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
      if (entries.length === 0) {
        throw new RangeError(`toBundle: no conv has run yet on the plug-in's backends (${(backends as string[]).join(', ')}; active: `
          + `${tf.getBackend?.() ?? 'none'}); run the model once (e.g. predict on one input) first`);
      }
      return encodeBundle({
        meta,
        layers: entries.map((e) => ({
          index: e.info.index, name: e.info.name, kind: e.info.kind, filterShape: e.info.filterShape,
          weightsCrc: e.weightsCrc, settings: e.settings, q: e.q ?? undefined, scales: e.scales ?? undefined,
          gamma: e.gamma, delta: e.delta, ...(e.foldedBatchNorm ? { foldedBatchNorm: true, bias: e.bias } : {}),
        })),
      });
    },
    observe(fn) {
      if (fn !== null && typeof fn !== 'function') throw new TypeError(`observe needs a function or null, got ${describe(fn)}`);
      observer = fn;
    },
  };
}

/**
 * The layer for this call's geometry, built on first use from the entry's VQK/KDS/CDS, on the
 * guest runtime when there is one.
 */
function built(e: Entry, options: DSConvOptions, float: boolean, biasKey: number, guest: Runtime | null): DSConv2d | Conv2d {
  // The geometry, which bias tensor and which memory: enough to tell the calls of one filter apart.
  const key = `${options.stride},${options.dilation},${options.padding},${options.activation},${biasKey},${guest ? 'guest' : 'own'}`;
  let layer = e.built.get(key);
  if (!layer) {
    const make = () => float ? new Conv2d(e.weights, options)
      : DSConv2d.fromQuantized({ q: e.q!, scales: e.scales! }, { ...options, gamma: e.gamma, delta: e.delta });
    layer = guest ? withRuntime(guest, make) : make();
    e.built.set(key, layer);
  }
  return layer;
}

function dropBuilt(e: Entry): void {
  for (const l of e.built.values()) l.dispose();
  e.built.clear();
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

/** The fold's per-channel factors from the BN's parameters. */
function factorsOf(fold: BatchNormFold, channels: number): ReturnType<typeof foldFactors> {
  return foldFactors(channels, {
    gamma: fold.gamma?.dataSync(), beta: fold.beta?.dataSync(), mean: fold.mean.dataSync(), variance: fold.variance.dataSync(), epsilon: fold.epsilon,
  });
}

/**
 * A folded bundle layer's float weights W·s, from the model's BN: checked against the bundle,
 * whose bias s·b + t the same BN must give bit for bit (else the model is not the one the bundle
 * was made from, and the float reference of calibration or an observer would be wrong).
 */
function foldBundleWeights(e: Entry): void {
  const fold = e.bundleFold, conv = `conv ${e.info.index}${e.info.name === undefined ? '' : ` (${e.info.name})`}`;
  if (!fold) {
    throw new RangeError(`${conv} comes from the bundle with its BatchNormalization folded, which options.model does not show: its float weights are unknown, so it cannot be observed or calibrated; pass the model the bundle was made from as options.model`);
  }
  const f = factorsOf(fold, e.info.outChannels);
  const bias = foldBias(fold.bias?.dataSync(), f);
  if (!e.bias || bias.length !== e.bias.length || bias.some((v, i) => !Object.is(v, e.bias![i]))) {
    throw new RangeError(`${conv}: the BatchNormalization after it in options.model is not the one the bundle folded (its folded bias differs), so its float weights are unknown; pass the model the bundle was made from`);
  }
  e.weights = scaleRows(e.weights, f.scale);
  e.bundleFold = undefined;
}
