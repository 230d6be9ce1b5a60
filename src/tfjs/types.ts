// The TF.js plug-in's types: what it tells callers about layers and calls, and the structural
// view of the parts of tfjs it touches (tfjs itself is never imported).
import type { DSConvOptions, QuantSettings } from '../core/options.js';

/** The kernels replaced. */
export const KERNELS = ['Conv2D', 'FusedConv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2D'] as const;
export type KernelName = typeof KERNELS[number];

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
  /**
   * A bundle written by `DSConvPlugin.toBundle()` / `dsconv quantize`: its VQK, KDS and CDS are
   * used as they are, and a layer it marks `foldedBatchNorm` runs with its folded bias and makes
   * the BatchNormalization after it an identity. Not with `float`.
   */
  bundle?: Uint8Array;
  /**
   * Fold each BatchNormalization into the conv before it, when that conv's output goes only to
   * the BN (see `findBatchNormFolds`): the conv's KDS (or, with `float`, its weights) and bias
   * take the BN's per-channel scale and shift, and the BN kernel returns its input. Needs
   * `model`; default true when `model` is given (and no `bundle`, whose layers say what is
   * folded). For inference only (predict/execute): the BN's moving statistics are used.
   */
  foldBatchNorm?: boolean;
  /**
   * Fold each ReLU or ReLU6 layer into the conv before it, when that conv's output (or that of
   * its folded BatchNormalization) goes only to the activation (see `findActivationFolds`): the
   * conv clamps in its epilogue, and the activation's kernels (`Relu`, `Relu6`, `ClipByValue`)
   * return their input. Needs `model` (a LayersModel: a graph model's converter already fuses
   * them); default true when `model` is given.
   */
  foldActivation?: boolean;
  /**
   * Fold each ZeroPadding2D layer into the 'valid' conv after it, when the padding goes only to
   * that conv (see `findPaddingFolds`): the conv takes the zeros as its own padding, reading the
   * unpadded tensor, and the padding layer passes its input on instead of copying it into a
   * larger one. Needs `model` (a LayersModel); default true when `model` is given.
   */
  foldPadding?: boolean;
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
  /** Whether the BatchNormalization after this conv is folded into it (and no longer runs). */
  readonly foldedBatchNorm: boolean;
  /** Folded layers: the bias s·b + t the layer runs with, in place of the conv's own. */
  readonly bias?: Float32Array;
}

/** What a conv call looks like to an observer (calibration). */
export interface ConvCall {
  layer: PluginLayer;
  /** The float OIHW weights (s·W when the BN is folded: the layer's output is then the BN's). */
  weights: Float32Array;
  /** DSConv options for this call (geometry, bias (folded too), quantization; activation 'none' for tfjs-only ones). */
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

// Minimal structural types for the parts of tfjs this module touches, written so that tfjs's own
// namespace type is assignable to TfLike (test/tfjs/types.test.js compiles the README's example
// against @tensorflow/tfjs and -core under --strict): dtypes as tfjs names them, and kernelFunc
// declared as a method, whose parameters TypeScript compares both ways.
export type DataType = 'float32' | 'int32' | 'bool' | 'complex64' | 'string';
export interface TensorInfo { dataId: object; shape: number[]; dtype: DataType }
export interface Backend {
  readSync(dataId: object): unknown;
  incRef?(dataId: object): void;
  disposeData?(dataId: object): unknown;
  typedArrayFromHeap?(t: TensorInfo): ArrayLike<number>;
  makeTensorInfo?(shape: number[], dtype: DataType, values: Float32Array): TensorInfo;
  makeOutput?(shape: number[], dtype: DataType, memoryOffset?: undefined, values?: Float32Array): TensorInfo;
  /** tfjs-backend-wasm's emscripten module: its exports (with the memory) and its allocator. */
  wasm?: { asm?: { memory?: unknown }; _malloc?(bytes: number): number; _free?(ptr: number): void };
}
export interface KernelArgs { inputs: Record<string, TensorInfo | undefined>; backend: Backend; attrs?: Record<string, any> }
export interface KernelConfig {
  kernelName: string;
  backendName: string;
  kernelFunc(args: KernelArgs): TensorInfo | TensorInfo[];
  setupFunc?: unknown;
  disposeFunc?: unknown;
}
export interface Conv2DInfoLike {
  outHeight: number; outWidth: number; strideHeight: number; strideWidth: number;
  dilationHeight: number; dilationWidth: number; filterHeight: number; filterWidth: number;
  padInfo: { top: number; bottom: number; left: number; right: number };
}
/** The part of the tfjs namespace the plug-in uses. */
export interface TfLike {
  /** The active backend's name, null before one is chosen (checked against options.backends). */
  getBackend?(): string | null;
  getKernel(name: string, backend: string): KernelConfig | undefined;
  registerKernel(config: KernelConfig): void;
  unregisterKernel(name: string, backend: string): void;
  backend_util: { computeConv2DInfo(...args: unknown[]): Conv2DInfoLike };
}
