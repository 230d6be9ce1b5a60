// Convolution geometry: option normalisation, padding, output size, and the indirection buffer
// that maps each (output pixel, tap) to the input pixel it reads.
import { int, intPair, object, oneOf, or, describe, float32Array, finiteFloat32Array, keysOf, knownOptions } from './validate.js';

export type Activation = 'none' | 'relu' | 'relu6';
export type Layout = 'NCHW' | 'NHWC';
export type Padding = number | [number, number] | [number, number, number, number] | 'same' | 'valid';

/** Options shared by DSConv2d and Conv2d. */
export interface ConvOptions {
  inChannels: number;
  outChannels: number;
  /** kh = kw, or [kh, kw]. */
  kernelSize: number | [number, number];
  /** Default 1. */
  stride?: number | [number, number];
  /** Explicit [top, left, bottom, right], [vertical, horizontal], one number for all sides, 'same' (TensorFlow's rule) or 'valid' (0). Default 'valid'. */
  padding?: Padding;
  /** Default 1. */
  dilation?: number | [number, number];
  /** Default 1; must divide inChannels and outChannels. */
  groups?: number;
  /** Float32Array[outChannels]. */
  bias?: Float32Array;
  /** Fused after bias (and CDS): default 'none'. */
  activation?: Activation;
}

/** Normalised layer geometry. */
export interface Geometry {
  inChannels: number;
  outChannels: number;
  kh: number;
  kw: number;
  stride: [number, number];
  dilation: [number, number];
  groups: number;
  groupChannels: number; // C_in / groups
  groupOutputs: number;  // C_out / groups
  padding: 'same' | [number, number, number, number];
  activation: Activation;
}

export interface InputShape {
  /** Default 1. */
  batch?: number;
  height: number;
  width: number;
  /** Default 'NCHW'. */
  layout?: Layout;
  /** Default: the input layout. */
  outputLayout?: Layout;
}

/** Normalised input shape with the resolved padding and output size. */
export interface Plan {
  batch: number;
  height: number;
  width: number;
  layout: Layout;
  outputLayout: Layout;
  pad: [number, number, number, number];
  outHeight: number;
  outWidth: number;
}

export const CONV_KEYS = keysOf<ConvOptions>({
  inChannels: 1, outChannels: 1, kernelSize: 1, stride: 1, padding: 1, dilation: 1, groups: 1, bias: 1, activation: 1,
});
export const SHAPE_KEYS = keysOf<InputShape>({ batch: 1, height: 1, width: 1, layout: 1, outputLayout: 1 });

export const ACTIVATIONS: readonly Activation[] = ['none', 'relu', 'relu6'];
const LAYOUTS: readonly Layout[] = ['NCHW', 'NHWC'];

/** The geometry in `options`; `known`, the option names the caller takes, makes any other key a TypeError. */
export function parseGeometry(options: unknown, known?: readonly string[]): Geometry {
  const o = object('options', options);
  if (known) knownOptions('options', o, known);
  const inChannels = int('options.inChannels', o.inChannels, 1);
  const outChannels = int('options.outChannels', o.outChannels, 1);
  const [kh, kw] = intPair('options.kernelSize', o.kernelSize, 1);
  const stride = intPair('options.stride', or(o.stride, 1), 1);
  const dilation = intPair('options.dilation', or(o.dilation, 1), 1);
  const groups = int('options.groups', or(o.groups, 1), 1);
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new RangeError(`options.groups (${groups}) must divide options.inChannels (${inChannels}) and options.outChannels (${outChannels})`);
  }
  if (kh * kw > 4096) throw new RangeError(`options.kernelSize ${kh}x${kw} has more than 4096 taps`);
  return {
    inChannels, outChannels, kh, kw, stride, dilation, groups,
    groupChannels: inChannels / groups,
    groupOutputs: outChannels / groups,
    padding: parsePadding(or(o.padding, 'valid')),
    activation: oneOf('options.activation', or(o.activation, 'none'), ACTIVATIONS),
  };
}

function parsePadding(p: unknown): 'same' | [number, number, number, number] {
  if (p === 'same') return 'same';
  if (p === 'valid') return [0, 0, 0, 0];
  if (typeof p === 'number') {
    const v = int('options.padding', p, 0);
    return [v, v, v, v];
  }
  if (Array.isArray(p) && p.length === 2) {
    const [v, h] = [int('options.padding[0]', p[0], 0), int('options.padding[1]', p[1], 0)];
    return [v, h, v, h];
  }
  if (Array.isArray(p) && p.length === 4) {
    return [0, 1, 2, 3].map((i) => int(`options.padding[${i}]`, p[i], 0)) as [number, number, number, number];
  }
  throw new (typeof p === 'string' ? RangeError : TypeError)(
    `options.padding must be 'same', 'valid', an integer, [vertical, horizontal] or [top, left, bottom, right], got ${describe(p)}`);
}

export function parseBias(g: Geometry, bias: unknown): Float32Array | undefined {
  if (bias === undefined) return undefined;
  return finiteFloat32Array('options.bias', bias, g.outChannels, '[outChannels]');
}

/** Validates a forward call's shape and input and resolves its padding and output size. */
export function plan(g: Geometry, input: unknown, shape: unknown): Plan {
  const p = resolve(g, shape);
  const dims = p.layout === 'NCHW'
    ? `[${p.batch}][${g.inChannels}][${p.height}][${p.width}]`
    : `[${p.batch}][${p.height}][${p.width}][${g.inChannels}]`;
  float32Array('input', input, p.batch * g.inChannels * p.height * p.width, `${p.layout} ${dims}`);
  return p;
}

/** Validates an input shape and resolves its padding and output size. */
export function resolve(g: Geometry, shape: unknown): Plan {
  const s = object('shape', shape);
  knownOptions('shape', s, SHAPE_KEYS);
  const batch = int('shape.batch', or(s.batch, 1), 1);
  const height = int('shape.height', s.height, 1);
  const width = int('shape.width', s.width, 1);
  const layout = oneOf('shape.layout', or(s.layout, 'NCHW'), LAYOUTS);
  const outputLayout = oneOf('shape.outputLayout', or(s.outputLayout, layout), LAYOUTS);
  const [pt, pl, pb, pr] = g.padding === 'same'
    ? interleave(samePad(height, g.kh, g.stride[0], g.dilation[0]), samePad(width, g.kw, g.stride[1], g.dilation[1]))
    : g.padding;
  const outHeight = outputExtent(height, g.kh, g.stride[0], g.dilation[0], pt, pb);
  const outWidth = outputExtent(width, g.kw, g.stride[1], g.dilation[1], pl, pr);
  if (outHeight < 1 || outWidth < 1) {
    throw new RangeError(`output would be empty: input ${height}x${width} with padding [${pt}, ${pl}, ${pb}, ${pr}] is smaller than the ${g.kh}x${g.kw} kernel at dilation [${g.dilation}]`);
  }
  if (batch * outHeight * outWidth * g.outChannels > 2 ** 30 || batch * height * width * g.inChannels > 2 ** 30) {
    throw new RangeError(`shape is too large: the input or output would exceed 2^30 elements`);
  }
  return { batch, height, width, layout, outputLayout, pad: [pt, pl, pb, pr], outHeight, outWidth };
}

/** Output size along one axis of a standard convolution (below 1: the output is empty). */
export function outputExtent(size: number, kernel: number, stride: number, dilation: number, padBefore: number, padAfter: number): number {
  return Math.floor((size + padBefore + padAfter - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** [top, bottom] and [left, right] as [top, left, bottom, right]. */
function interleave([t, b]: [number, number], [l, r]: [number, number]): [number, number, number, number] {
  return [t, l, b, r];
}

/** TensorFlow's 'same' padding along one axis: [before, after]. */
export function samePad(size: number, k: number, s: number, d: number): [number, number] {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + (k - 1) * d + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * Row runs: where each tap has few channels, the float kernel reads a row of kw taps as one run
 * of kw·C contiguous floats (taps = kh, channels = kw·C), from a copy of the NHWC image whose rows
 * are `pitch` pixels apart, `left` zero columns before x = 0 and zeros after x = width - 1, so a
 * run never leaves its row. Only for one group and horizontal dilation 1.
 */
export interface RowLayout {
  width: number;
  channels: number;
  pitch: number;
  left: number;
}

/** The padded rows for plan p: every output pixel's leftmost tap to its rightmost fits in a row. */
export function rowLayout(g: Geometry, p: Plan): RowLayout {
  const left = p.pad[1];
  return { width: p.width, channels: g.inChannels, pitch: Math.max(left + p.width, (p.outWidth - 1) * g.stride[1] + g.kw), left };
}

/** Floats of the padded copy of one image: `height` rows, and the leading zero columns of row 0. */
export function rowImageFloats(rows: RowLayout, height: number): number {
  return (height * rows.pitch + rows.left) * rows.channels;
}

/**
 * Input pixel index (y * width + x) read by each output pixel and tap, -1 where the tap falls in
 * the padding; [pixels rounded up to `multiple`][kh * kw], the extra pixels reading only padding.
 * Given `rows`, one entry per output pixel and kernel row instead, [pixels][kh]: the index
 * y * pitch + x + left of the run's first tap in the padded copy, -1 where y is in the padding.
 */
export function indirection(g: Geometry, p: Plan, multiple: number, rows?: RowLayout): Int32Array {
  const npix = p.outHeight * p.outWidth;
  const taps = rows ? g.kh : g.kh * g.kw;
  const rowsOut = Math.ceil(npix / multiple) * multiple;
  const ind = new Int32Array(rowsOut * taps).fill(-1);
  const [sy, sx] = g.stride;
  const [dy, dx] = g.dilation;
  for (let oy = 0; oy < p.outHeight; oy++) {
    for (let ox = 0; ox < p.outWidth; ox++) {
      const base = (oy * p.outWidth + ox) * taps;
      for (let i = 0; i < g.kh; i++) {
        const y = oy * sy - p.pad[0] + i * dy;
        if (y < 0 || y >= p.height) continue;
        if (rows) {
          ind[base + i] = y * rows.pitch + ox * sx; // x = ox * sx - left, at column x + left
          continue;
        }
        for (let j = 0; j < g.kw; j++) {
          const x = ox * sx - p.pad[1] + j * dx;
          if (x >= 0 && x < p.width) ind[base + i * g.kw + j] = y * p.width + x;
        }
      }
    }
  }
  return ind;
}

/** Whether the layer runs on the depthwise kernels: one input channel per group and per output. */
export function isDepthwise(g: Geometry): boolean {
  return g.groupChannels === 1 && g.groupOutputs === 1;
}
