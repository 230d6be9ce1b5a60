// DSConv2d: integer weights (VQK) with block scales (KDS), BFP activations. Its execution path
// is the one its kernel-table record names.
import { type Geometry, parseGeometry, parseBias } from '../geometry.js';
import { type DsconvRecord, selectDsconv } from '../kernel-table.js';
import { type DSConvOptions, type Quantization, parseQuantSettings, DSCONV_KEYS } from '../options.js';
import { blocks } from '../pack.js';
import { type QuantizedWeights, quantizeWeights, packInts, unpackInts, packedWeightBytes } from '../quantize.js';
import { rt } from '../runtime.js';
import { float32Array, finiteFloat32Array, object, describe, requireFinite } from '../validate.js';
import { encodeLayer, decodeLayer } from '../serialize.js';
import { ConvLayer } from './conv-layer.js';
import type { ConvPath } from './path.js';
import { dsconvPath } from './paths.js';
import { weightCount, weightShape } from './weights.js';

/** Storage of the quantized weights at rest (what toBytes writes for them). */
export interface WeightBytes {
  /** Packed VQK: two per byte for bits <= 4, else one per byte. */
  packed: number;
  /** KDS: one float32 per block. */
  scales: number;
  total: number;
  /** The same weights as float32. */
  float32: number;
}

/** Passed by the factories: `new DSConv2d(...)` from JavaScript, which TS would refuse, is told what to call. */
const FACTORY = Symbol('DSConv2d factory');

export class DSConv2d extends ConvLayer {
  readonly quantization: Readonly<Quantization>;
  /** The kernel-table record this layer runs. */
  readonly kernel: Readonly<DsconvRecord>;
  protected readonly path: ConvPath;
  private readonly packedQ: Uint8Array;
  private readonly kds: Float32Array;

  private constructor(key: typeof FACTORY, g: Geometry, bias: Float32Array | undefined, qz: Quantization, qw: QuantizedWeights) {
    if (key !== FACTORY) {
      throw new TypeError('DSConv2d has no public constructor: make one with DSConv2d.fromFloat(weights, options), '
        + 'DSConv2d.fromQuantized({ q, scales }, options) or DSConv2d.fromBytes(bytes)');
    }
    super(g, bias);
    this.quantization = qz;
    this.packedQ = packInts(qw.q, qz.bits);
    this.kds = qw.scales.slice();
    const b = blocks(g, qz.blockSize);
    this.kernel = selectDsconv(this.runtime.build, g, qz.bits, b.paddedLen);
    this.path = dsconvPath(this.kernel, g, qz, qw.q, qw.scales, this.keep);
  }

  /** Quantizes float32 OIHW weights ([outChannels][inChannels/groups][kh][kw]) into a layer. */
  static fromFloat(weights: Float32Array, options: DSConvOptions): DSConv2d {
    rt();
    const { g, bias, qz, gamma, delta } = parseDsconvOptions(options);
    float32Array('weights', weights, weightCount(g), weightShape(g));
    const qw = quantizeWeights(weights, shapeOf(g), qz.bits, qz.blockSize, qz.blockMode);
    const layer = new DSConv2d(FACTORY, g, bias, { ...qz, nBlocks: qw.nBlocks }, qw);
    layer.setAffine(gamma, delta);
    return layer;
  }

  /**
   * Builds a layer from already quantized weights: `q` (Int8Array, OIHW, values in
   * [-2^(bits-1), 2^(bits-1)-1]) and `scales` (KDS, [outChannels][nBlocks][kh][kw], or
   * [outChannels] for depthwiseBlocks 'taps'). For scales fitted elsewhere, e.g. by calibration.
   */
  static fromQuantized(weights: { q: Int8Array; scales: Float32Array }, options: DSConvOptions): DSConv2d {
    rt();
    const { g, bias, qz, gamma, delta } = parseDsconvOptions(options);
    const w = object('weights', weights);
    if (!(w.q instanceof Int8Array)) throw new TypeError(`weights.q must be an Int8Array of length ${weightCount(g)} (${weightShape(g)}), got ${describe(w.q)}`);
    if (w.q.length !== weightCount(g)) throw new RangeError(`weights.q must have length ${weightCount(g)} (${weightShape(g)}), got ${w.q.length}`);
    const lo = -(2 ** (qz.bits - 1));
    const hi = 2 ** (qz.bits - 1) - 1;
    const bad = w.q.findIndex((v) => v < lo || v > hi);
    if (bad >= 0) throw new RangeError(`weights.q[${bad}] = ${w.q[bad]} is outside [${lo}, ${hi}] for bits = ${qz.bits}`);
    const nBlocks = qz.blockMode === 'taps' ? 1 : Math.ceil(g.groupChannels / qz.blockSize);
    const nScales = qz.blockMode === 'taps' ? g.outChannels : g.outChannels * nBlocks * g.kh * g.kw;
    const scales = float32Array('weights.scales', w.scales, nScales,
      qz.blockMode === 'taps' ? '[outChannels]' : `[outChannels][${nBlocks}][kh][kw]`);
    requireFinite('weights.scales', scales);
    const layer = new DSConv2d(FACTORY, g, bias, { ...qz, nBlocks }, { q: w.q, scales, nBlocks });
    layer.setAffine(gamma, delta);
    return layer;
  }

  /** Restores a layer written by toBytes(); a truncated, corrupt or foreign blob is a RangeError. */
  static fromBytes(bytes: Uint8Array): DSConv2d {
    rt();
    const d = decodeLayer(bytes);
    const g = parseGeometry(d.options);
    const count = weightCount(g);
    const q = unpackInts(d.packedQ, count, d.quantization.bits);
    return DSConv2d.fromQuantized({ q, scales: d.scales }, d.options);
  }

  /** Serialises shapes, options, packed VQK, KDS, bias and CDS with a header and a CRC-32. */
  toBytes(): Uint8Array {
    this.live();
    return encodeLayer({ options: this.options(), quantization: this.quantization, packedQ: this.packedQ, scales: this.kds });
  }

  /** The layer's options as given (after defaults): enough to rebuild it with fromQuantized. */
  options(): DSConvOptions {
    this.live();
    const g = this.geometry;
    const q = this.quantization;
    return {
      inChannels: g.inChannels, outChannels: g.outChannels, kernelSize: [g.kh, g.kw], stride: [...g.stride],
      padding: g.padding === 'same' ? 'same' : [...g.padding], dilation: [...g.dilation], groups: g.groups,
      activation: g.activation, bias: this.bias?.slice(), gamma: this.gamma?.slice(), delta: this.delta?.slice(),
      bits: q.bits, blockSize: q.blockSize, mantissaBits: q.mantissaBits, depthwiseBlocks: q.blockMode,
    };
  }

  /** A copy of the VQK (Int8Array, OIHW) and KDS. */
  get weights(): QuantizedWeights {
    this.live();
    const q = unpackInts(this.packedQ, weightCount(this.geometry), this.quantization.bits);
    return { q, scales: this.kds.slice(), nBlocks: this.quantization.nBlocks };
  }

  get weightBytes(): WeightBytes {
    this.live();
    const n = weightCount(this.geometry);
    const packed = packedWeightBytes(n, this.quantization.bits);
    return { packed, scales: this.kds.byteLength, total: packed + this.kds.byteLength, float32: n * 4 };
  }

  /** Sets (or with no arguments clears) the CDS affine gamma * y + delta, per output channel. */
  setCDS(gamma?: Float32Array, delta?: Float32Array): void {
    this.live();
    const c = this.geometry.outChannels;
    this.setAffine(
      gamma === undefined ? undefined : finiteFloat32Array('gamma', gamma, c, '[outChannels]'),
      delta === undefined ? undefined : finiteFloat32Array('delta', delta, c, '[outChannels]'));
  }
}

function parseDsconvOptions(options: DSConvOptions) {
  const g = parseGeometry(options, DSCONV_KEYS);
  const o = options as unknown as Record<string, unknown>;
  const s = parseQuantSettings('options', o);
  if (s.depthwiseBlocks === 'taps' && g.groupChannels !== 1) {
    throw new RangeError(`options.depthwiseBlocks 'taps' needs a depthwise layer (groups = inChannels), got groups = ${g.groups} with inChannels = ${g.inChannels}`);
  }
  const affine = (name: string) => o[name] === undefined ? undefined : finiteFloat32Array(`options.${name}`, o[name], g.outChannels, '[outChannels]');
  return {
    g, bias: parseBias(g, o.bias), gamma: affine('gamma'), delta: affine('delta'),
    qz: { bits: s.bits, blockSize: s.blockSize, mantissaBits: s.mantissaBits, blockMode: s.depthwiseBlocks },
  };
}

function shapeOf(g: Geometry) {
  return { outChannels: g.outChannels, groupChannels: g.groupChannels, kh: g.kh, kw: g.kw };
}
