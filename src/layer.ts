// The public layers: DSConv2d (integer weights, BFP activations) and Conv2d (float32 baseline).
// Both share one forward path: copy the input into wasm memory once, per image bring it to NHWC,
// run the kernel over the indirection buffer, apply the epilogue into the output in the caller's
// layout, and copy the output out once.
import {
  type ConvOptions, type Geometry, type InputShape, type Plan,
  parseGeometry, parseBias, plan, resolve, indirection, isDepthwise,
} from './geometry.js';
import {
  type Blocks, type WeightFormat, TILE_M, TILE_N, blocks, roundUp, zeroPoint, packDsconv, packFloat, packDepthwise,
} from './pack.js';
import { type BlockMode, type QuantizedWeights, quantizeWeights, packInts, unpackInts, packedWeightBytes } from './quantize.js';
import { Scratch } from './memory.js';
import { type Runtime, rt } from './wasm.js';
import { int, oneOf, or, float32Array, finiteFloat32Array, object, checkFinite, describe } from './validate.js';
import { encodeLayer, decodeLayer } from './serialize.js';

/** Per-call work sizes a layer tells the shared forward path. */
interface Work {
  imageStride: number;  // floats per pixel of the NHWC image the kernel reads
  zeroBytes: number;    // bytes the padding taps may read
  pixelMultiple: number; // output pixels per kernel tile
}

abstract class ConvLayer {
  readonly geometry: Readonly<Geometry>;
  protected readonly bias?: Float32Array;
  protected gamma?: Float32Array;
  protected delta?: Float32Array;
  private disposed = false;
  private readonly owned = new Map<number, number>(); // pointer -> bytes of each buffer the layer keeps
  private readonly indir: Scratch;
  private indirKey = '';
  private epilogue = 0; // see epilogueBuffer()

  protected constructor(g: Geometry, bias: Float32Array | undefined) {
    this.geometry = g;
    this.bias = bias && bias.slice();
    this.indir = new Scratch(rt().heap);
  }

  /** [outHeight, outWidth] for an input of height x width. */
  outputSize(height: number, width: number): [number, number] {
    this.live();
    const p = resolve(this.geometry, { height, width });
    return [p.outHeight, p.outWidth];
  }

  /**
   * Runs the layer on `input` (float32, `shape.layout`, default NCHW) and returns the output,
   * batch x outChannels x outHeight x outWidth in `shape.outputLayout` (default: the input's
   * layout): written into `out` when given (a Float32Array of exactly that length, which is
   * returned; reusing one saves allocating a new array per call), else a new Float32Array.
   * The input is not modified.
   */
  forward(input: Float32Array, shape: InputShape, out?: Float32Array): Float32Array {
    const r = this.live();
    const g = this.geometry;
    const p = plan(g, input, shape);
    const hw = p.height * p.width;
    const npix = p.outHeight * p.outWidth;
    const outLen = p.batch * g.outChannels * npix;
    if (out !== undefined) {
      const dims = `${p.outputLayout} [${p.batch}]${p.outputLayout === 'NCHW' ? `[${g.outChannels}][${p.outHeight}][${p.outWidth}]` : `[${p.outHeight}][${p.outWidth}][${g.outChannels}]`}`;
      if (!(out instanceof Float32Array)) throw new TypeError(`out must be a Float32Array of length ${outLen} (${dims}), got ${describe(out)}`);
      if (out.length !== outLen) throw new RangeError(`out must have length ${outLen} (${dims}), got ${out.length}`);
    }
    const work = this.work();
    const rows = roundUp(npix, work.pixelMultiple);
    const s = r.scratch;

    // Allocate first: growing memory detaches views, so data moves only after this point.
    const inPtr = s.input.ensure(input.byteLength);
    const outPtr = s.output.ensure(outLen * 4);
    const direct = p.layout === 'NHWC' && work.imageStride === g.inChannels;
    const imagePtr = direct ? 0 : s.image.ensure(hw * work.imageStride * 4);
    const indirPtr = this.indirection(r, p, work.pixelMultiple);
    const zero = r.zeros(work.zeroBytes);
    const acc = this.allocate(r, hw, rows);
    const epi = this.epilogueBuffer();

    r.f32(inPtr, input.length).set(input);
    const scanned = this.scansInput();
    if (!scanned) checkFinite('input', input, r.k.find_nonfinite_f32(inPtr, input.length));
    const imageBytes = hw * g.inChannels * 4;
    const nchw = p.outputLayout === 'NCHW';
    const [lo, hi] = g.activation === 'relu' ? [0, Infinity] : g.activation === 'relu6' ? [0, 6] : [-Infinity, Infinity];
    const { stride, groupStride, groupChannels, calls } = this.accLayout();
    for (let n = 0; n < p.batch; n++) {
      const src = inPtr + n * imageBytes;
      let image = src;
      if (p.layout === 'NCHW') {
        r.k.transpose_f32(src, g.inChannels, hw, imagePtr, work.imageStride);
        image = imagePtr;
      } else if (!direct) {
        r.k.repack_f32(src, hw, g.inChannels, g.inChannels, imagePtr, work.imageStride);
        image = imagePtr;
      }
      // A BFP pass that met a NaN or ±Inf has only scratch to show for it: find and name it.
      if (this.run(r, image, work.imageStride, hw, indirPtr, rows, zero) && scanned) {
        checkFinite('input', input, r.k.find_nonfinite_f32(inPtr, input.length));
      }
      const dst = outPtr + n * g.outChannels * npix * 4;
      for (let c = 0; c < calls; c++) {
        const ch = c * groupChannels;
        r.k.epilogue_f32(acc + c * groupStride * 4, stride, npix, groupChannels,
          dst + (nchw ? ch * npix : ch) * 4, nchw ? 1 : g.outChannels, nchw ? npix : 1,
          epi + ch * 4, epi + (g.outChannels + ch) * 4, lo, hi);
      }
    }
    if (out === undefined) return r.f32(outPtr, outLen).slice();
    out.set(r.f32(outPtr, outLen));
    return out;
  }

  /** Frees the layer's wasm memory; any later call throws. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const r = rt();
    for (const ptr of this.owned.keys()) r.heap.release(ptr);
    this.owned.clear();
    this.indir.dispose();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Bytes of wasm memory this layer keeps between calls (weights, scales, epilogue, indirection). */
  get residentBytes(): number {
    this.live();
    let bytes = this.indir.size;
    for (const n of this.owned.values()) bytes += n;
    return bytes;
  }

  protected live(): Runtime {
    if (this.disposed) throw new TypeError(`this ${this.constructor.name} has been disposed; create a new layer`);
    return rt();
  }

  /** Copies `data` into wasm memory for the layer's lifetime. */
  protected keep(data: ArrayBufferView): number {
    const ptr = rt().upload(data);
    this.owned.set(ptr, data.byteLength);
    return ptr;
  }

  protected setAffine(gamma: Float32Array | undefined, delta: Float32Array | undefined): void {
    this.gamma = gamma && gamma.slice();
    this.delta = delta && delta.slice();
    if (this.epilogue !== 0) {
      this.owned.delete(this.epilogue);
      rt().heap.release(this.epilogue);
      this.epilogue = 0; // rebuilt on the next call
    }
  }

  /** scale[outChannels] = gamma, then shift[outChannels] = gamma * bias + delta. */
  private epilogueBuffer(): number {
    const c = this.geometry.outChannels;
    if (this.epilogue === 0) {
      const e = new Float32Array(2 * c);
      for (let o = 0; o < c; o++) {
        const gm = this.gamma ? this.gamma[o] : 1;
        e[o] = gm;
        e[c + o] = gm * (this.bias ? this.bias[o] : 0) + (this.delta ? this.delta[o] : 0);
      }
      this.epilogue = this.keep(e);
    }
    return this.epilogue;
  }

  private indirection(r: Runtime, p: Plan, multiple: number): number {
    const key = `${p.height},${p.width},${p.pad}`;
    if (key !== this.indirKey) {
      const ind = indirection(this.geometry, p, multiple);
      const ptr = this.indir.ensure(ind.byteLength);
      r.i32(ptr, ind.length).set(ind);
      this.indirKey = key;
    }
    return this.indir.ptr;
  }

  protected abstract work(): Work;
  /** Whether run() checks the input for NaN and ±Inf itself (in its BFP pass). */
  protected scansInput(): boolean {
    return false;
  }
  /** Allocates the per-call scratch the kernels need; returns the accumulator pointer. */
  protected abstract allocate(r: Runtime, hw: number, rows: number): number;
  /** Runs the kernels on one NHWC image into the accumulator; true if it met a NaN or ±Inf. */
  protected abstract run(r: Runtime, image: number, imageStride: number, hw: number, indir: number, rows: number, zero: number): boolean;
  protected abstract accLayout(): { stride: number; groupStride: number; groupChannels: number; calls: number };

  /** Accumulator layout of the tiled kernels: [rows][groups][outputs padded to 8]. */
  protected tiledAccLayout() {
    const g = this.geometry;
    const padded = roundUp(g.groupOutputs, TILE_N);
    return { stride: g.groups * padded, groupStride: padded, groupChannels: g.groupOutputs, calls: g.groups };
  }

  /** Accumulator layout of the depthwise kernels: [pixels][channels padded to 4]. */
  protected depthwiseAccLayout() {
    const c = this.geometry.outChannels;
    return { stride: roundUp(c, 4), groupStride: 0, groupChannels: c, calls: 1 };
  }
}

// ---------------------------------------------------------------------------------------------

/** DSConv options: the convolution's plus the quantization's. */
export interface DSConvOptions extends ConvOptions {
  /** Weight bits b, 2..8. Default 4. */
  bits?: number;
  /** Block size B (input channels per scale), >= 1. Default 32. */
  blockSize?: number;
  /** Activation mantissa bits m (sign included), 2..8. Default 8. */
  mantissaBits?: number;
  /**
   * Weight blocks of a depthwise layer (one input channel per group): 'channels' (default, one
   * scale per weight, as the paper) or 'taps' (one scale per output channel over its kh x kw taps).
   */
  depthwiseBlocks?: BlockMode;
  /** CDS: per-output-channel affine y' = gamma * y + delta after the bias. Float32Array[outChannels]. */
  gamma?: Float32Array;
  delta?: Float32Array;
}

/** Quantization settings of a DSConv2d, after defaults. */
export interface Quantization {
  bits: number;
  blockSize: number;
  mantissaBits: number;
  blockMode: BlockMode;
  nBlocks: number;
}

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

export class DSConv2d extends ConvLayer {
  readonly quantization: Readonly<Quantization>;
  private readonly packedQ: Uint8Array;
  private readonly kds: Float32Array;
  private readonly b: Blocks;
  private readonly depthwise: boolean;
  private readonly wPtr: number;
  private readonly xiPtr: number;
  private readonly groupWeightBytes: number;
  private readonly groupXiFloats: number;
  private readonly format?: WeightFormat; // tiled layers only

  private constructor(g: Geometry, bias: Float32Array | undefined, qz: Quantization, qw: QuantizedWeights) {
    super(g, bias);
    this.quantization = qz;
    this.packedQ = packInts(qw.q, qz.bits);
    this.kds = qw.scales.slice();
    this.depthwise = isDepthwise(g);
    this.b = blocks(g, qz.blockSize); // unused by the depthwise kernels, whose blocks are single channels
    if (this.depthwise) {
      const cp = roundUp(g.outChannels, 4);
      this.wPtr = this.keep(packDepthwise(g, qw.q, (n) => new Int8Array(n)));
      let xi: Float32Array;
      if (qz.blockMode === 'taps') {
        xi = new Float32Array(cp);
        xi.set(qw.scales);
      } else {
        xi = packDepthwise(g, qw.scales, (n) => new Float32Array(n));
      }
      this.xiPtr = this.keep(xi);
      this.groupWeightBytes = 0;
      this.groupXiFloats = 0;
    } else {
      this.format = weightFormat(qz.bits, this.b.paddedLen);
      const packed = packDsconv(g, this.b, qw.q, qw.scales, qz.blockMode, this.format);
      this.wPtr = this.keep(packed.weights);
      this.xiPtr = this.keep(packed.xi);
      this.groupWeightBytes = packed.groupWeightBytes;
      this.groupXiFloats = packed.groupXiFloats;
    }
  }

  /** Quantizes float32 OIHW weights ([outChannels][inChannels/groups][kh][kw]) into a layer. */
  static fromFloat(weights: Float32Array, options: DSConvOptions): DSConv2d {
    rt();
    const { g, bias, qz, gamma, delta } = parseDsconvOptions(options);
    float32Array('weights', weights, weightCount(g), weightShape(g));
    const qw = quantizeWeights(weights, shapeOf(g), qz.bits, qz.blockSize, qz.blockMode);
    const layer = new DSConv2d(g, bias, { ...qz, nBlocks: qw.nBlocks }, qw);
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
    const badScale = scales.findIndex((v) => !Number.isFinite(v));
    if (badScale >= 0) throw new RangeError(`weights.scales[${badScale}] is ${scales[badScale]}; expected finite values`);
    const layer = new DSConv2d(g, bias, { ...qz, nBlocks }, { q: w.q, scales, nBlocks });
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

  protected work(): Work {
    const g = this.geometry;
    if (this.depthwise) return { imageStride: g.inChannels, zeroBytes: roundUp(g.inChannels, 4) * 4, pixelMultiple: 1 };
    return {
      imageStride: g.inChannels, pixelMultiple: TILE_M,
      zeroBytes: Math.max(this.b.nBlocks * this.b.paddedLen * 2, this.format === 'dequant' ? g.groupChannels * 4 : 0),
    };
  }

  protected allocate(r: Runtime, hw: number, rows: number): number {
    const g = this.geometry;
    const s = r.scratch;
    if (this.depthwise) {
      const cp = roundUp(g.inChannels, 4);
      s.mant.ensure(hw * cp * 4);
      s.weights.ensure(g.kh * g.kw * cp * 4);
      return s.acc.ensure(rows * cp * 4);
    }
    const slots = g.groups * this.b.nBlocks;
    if (this.format === 'dequant') {
      s.mant.ensure(hw * g.inChannels * 4);
      s.weights.ensure(this.groupWeightBytes * g.groups * 4);
    } else {
      const { mantBytes, recordBytes } = this.bfpLayout();
      s.mant.ensure(hw * slots * this.b.paddedLen * mantBytes);
      s.scale.ensure(hw * slots * recordBytes);
      // One tile of weights widened (to int16, or nibbles to bytes) by the kernels that need it.
      if (this.format !== 'rdot_q7') s.weights.ensure(g.kh * g.kw * this.b.nBlocks * this.b.paddedLen * 16);
    }
    return s.acc.ensure(rows * this.tiledAccLayout().stride * 4);
  }

  protected run(r: Runtime, image: number, imageStride: number, hw: number, indir: number, rows: number, zero: number): boolean {
    const g = this.geometry;
    const k = r.k;
    const s = r.scratch;
    const m = this.quantization.mantissaBits;
    const taps = g.kh * g.kw;
    if (this.depthwise) {
      const cp = roundUp(g.inChannels, 4);
      if (k.bfp_dequant_c1(image, hw, imageStride, g.inChannels, m, s.mant.ptr, cp)) return true;
      k.dsconv_dw_weights(this.wPtr, this.xiPtr, this.quantization.blockMode === 'taps' ? 0 : cp, taps, cp, s.weights.ptr);
      k.dwconv_1x16_f32(indir, rows, taps, s.mant.ptr, cp, zero, cp, s.weights.ptr, s.acc.ptr, cp);
      return false;
    }
    const { blockLen, nBlocks, paddedLen } = this.b;
    const slots = g.groups * nBlocks;
    const format = this.format!;
    const acc = this.tiledAccLayout();
    const nTiles = acc.groupStride / TILE_N;
    if (format === 'dequant') {
      // Dequantized weights and activations through the float kernel (DSCONV.md allows any
      // evaluation order up to float32 rounding of the sums).
      const cg = g.groupChannels;
      if (k.bfp_dequant_nhwc(image, hw, imageStride, g.groups, cg, blockLen, nBlocks, m, s.mant.ptr, g.inChannels)) return true;
      k.dsconv_weights_f32(this.wPtr, this.xiPtr, g.groups * nTiles * taps, cg, blockLen, nBlocks, s.weights.ptr);
      for (let grp = 0; grp < g.groups; grp++) {
        k.conv_4x8_f32(indir, rows, taps, s.mant.ptr + grp * cg * 4, g.inChannels, zero, cg,
          s.weights.ptr + grp * this.groupWeightBytes * 4, nTiles, s.acc.ptr + grp * acc.groupStride * 4, acc.stride);
      }
      return false;
    }
    const { relaxed, mantBytes, recordBytes } = this.bfpLayout();
    // int8 mantissas for the relaxed kernels, with the -z * ΣM they start each block from.
    const nonFinite = relaxed
      ? k.bfp_quantize_nhwc_i8(image, hw, imageStride, g.groups, g.groupChannels, blockLen, nBlocks, m,
        s.mant.ptr, slots * paddedLen, paddedLen, s.scale.ptr, -zeroPoint(format))
      : k.bfp_quantize_nhwc(image, hw, imageStride, g.groups, g.groupChannels, blockLen, nBlocks, m,
        s.mant.ptr, slots * paddedLen, paddedLen, s.scale.ptr);
    if (nonFinite) return true;
    const kernel = format === 'rdot_q7' ? k.dsconv_4x8c4_rdot_q7! : format === 'rdot_q4' ? k.dsconv_4x8c4_rdot_q4!
      : format === 'dot16_q4' ? k.dsconv_4x8c2_dot16_q4 : k.dsconv_4x8c2_dot16_q8;
    for (let grp = 0; grp < g.groups; grp++) {
      kernel(indir, rows, taps,
        s.mant.ptr + grp * nBlocks * paddedLen * mantBytes, slots * paddedLen,
        s.scale.ptr + grp * nBlocks * recordBytes, slots, zero, zero, nBlocks, paddedLen,
        this.wPtr + grp * this.groupWeightBytes, this.xiPtr + grp * this.groupXiFloats * 4,
        nTiles, s.acc.ptr + grp * acc.groupStride * 4, acc.stride, s.weights.ptr);
    }
    return false;
  }

  /** What the integer kernels read: int8 mantissas with (scale, -z·ΣM) records, or int16 and scales. */
  private bfpLayout() {
    const relaxed = this.format === 'rdot_q7' || this.format === 'rdot_q4';
    return { relaxed, mantBytes: relaxed ? 1 : 2, recordBytes: relaxed ? 8 : 4 };
  }

  protected override scansInput(): boolean {
    return true;
  }

  protected accLayout() {
    return this.depthwise ? this.depthwiseAccLayout() : this.tiledAccLayout();
  }
}

function parseDsconvOptions(options: DSConvOptions) {
  const g = parseGeometry(options);
  const o = options as unknown as Record<string, unknown>;
  const bits = int('options.bits', or(o.bits, 4), 2, 8);
  const blockSize = int('options.blockSize', or(o.blockSize, 32), 1, 65536);
  const mantissaBits = int('options.mantissaBits', or(o.mantissaBits, 8), 2, 8);
  const blockMode = oneOf('options.depthwiseBlocks', or(o.depthwiseBlocks, 'channels'), ['channels', 'taps'] as const);
  if (blockMode === 'taps' && g.groupChannels !== 1) {
    throw new RangeError(`options.depthwiseBlocks 'taps' needs a depthwise layer (groups = inChannels), got groups = ${g.groups} with inChannels = ${g.inChannels}`);
  }
  const affine = (name: string) => o[name] === undefined ? undefined : finiteFloat32Array(`options.${name}`, o[name], g.outChannels, '[outChannels]');
  return {
    g, bias: parseBias(g, o.bias), gamma: affine('gamma'), delta: affine('delta'),
    qz: { bits, blockSize, mantissaBits, blockMode },
  };
}

/**
 * The kernel a tiled layer runs. Blocks of at most 4 channels (an RGB stem, B <= 4) leave the
 * integer kernels one or two dot steps per float rescale, where the float kernel on dequantized
 * values is about twice as fast ('dequant'). Otherwise by weight bits and build: the relaxed int8
 * dot product where the weights fit its 7-bit operand after an offset (bits <= 7), else the
 * portable int16 one.
 */
function weightFormat(bits: number, paddedLen: number): WeightFormat {
  if (paddedLen <= 4) return 'dequant';
  if (rt().build === 'relaxed' && bits <= 7) return bits <= 4 ? 'rdot_q4' : 'rdot_q7';
  return bits <= 4 ? 'dot16_q4' : 'dot16_q8';
}

function weightCount(g: Geometry): number {
  return g.outChannels * g.groupChannels * g.kh * g.kw;
}

function weightShape(g: Geometry): string {
  return `OIHW [${g.outChannels}][${g.groupChannels}][${g.kh}][${g.kw}]`;
}

function shapeOf(g: Geometry) {
  return { outChannels: g.outChannels, groupChannels: g.groupChannels, kh: g.kh, kw: g.kw };
}

// ---------------------------------------------------------------------------------------------

/** Float32 convolution with the same options and forward() as DSConv2d: the baseline. */
export class Conv2d extends ConvLayer {
  private readonly depthwise: boolean;
  private readonly wPtr: number;
  private readonly groupFloats: number;

  /** Packs float32 OIHW weights ([outChannels][inChannels/groups][kh][kw]) into a layer. */
  constructor(weights: Float32Array, options: ConvOptions) {
    rt();
    const g = parseGeometry(options);
    const bias = parseBias(g, (options as unknown as Record<string, unknown>).bias);
    float32Array('weights', weights, weightCount(g), weightShape(g));
    const bad = weights.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new RangeError(`weights[${bad}] is ${weights[bad]}; expected finite values`);
    super(g, bias);
    this.depthwise = isDepthwise(g);
    if (this.depthwise) {
      this.wPtr = this.keep(packDepthwise(g, weights, (n) => new Float32Array(n)));
      this.groupFloats = 0;
    } else {
      const packed = packFloat(g, weights);
      this.wPtr = this.keep(packed.weights);
      this.groupFloats = packed.groupFloats;
    }
  }

  protected work(): Work {
    const g = this.geometry;
    if (this.depthwise) {
      const cp = roundUp(g.inChannels, 4);
      return { imageStride: cp, zeroBytes: cp * 4, pixelMultiple: 1 };
    }
    return { imageStride: g.inChannels, zeroBytes: g.groupChannels * 4, pixelMultiple: TILE_M };
  }

  protected allocate(r: Runtime, _hw: number, rows: number): number {
    return r.scratch.acc.ensure(rows * this.accLayout().stride * 4);
  }

  protected run(r: Runtime, image: number, imageStride: number, _hw: number, indir: number, rows: number, zero: number): boolean {
    const g = this.geometry;
    const taps = g.kh * g.kw;
    const acc = r.scratch.acc.ptr;
    if (this.depthwise) {
      r.k.dwconv_1x16_f32(indir, rows, taps, image, imageStride, zero, imageStride, this.wPtr, acc, imageStride);
      return false;
    }
    const a = this.tiledAccLayout();
    for (let grp = 0; grp < g.groups; grp++) {
      r.k.conv_4x8_f32(indir, rows, taps, image + grp * g.groupChannels * 4, imageStride, zero,
        g.groupChannels, this.wPtr + grp * this.groupFloats * 4, a.groupStride / TILE_N,
        acc + grp * a.groupStride * 4, a.stride);
    }
    return false;
  }

  protected accLayout() {
    return this.depthwise ? this.depthwiseAccLayout() : this.tiledAccLayout();
  }
}

/** One-shot float convolution: packs the weights, runs forward once, frees the layer. */
export function conv2d(input: Float32Array, weights: Float32Array, options: ConvOptions & InputShape): Float32Array {
  const layer = new Conv2d(weights, options);
  try {
    return layer.forward(input, options);
  } finally {
    layer.dispose();
  }
}
