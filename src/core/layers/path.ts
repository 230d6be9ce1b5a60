// What the shared forward path (conv-layer.ts) asks of an execution path: one class per kernel-
// table record kind, each holding only what its kernels read.
import type { Geometry } from '../geometry.js';
import type { Runtime } from '../runtime.js';
import { roundUp } from '../pack.js';

/** Where a path's kernels leave the pre-epilogue sums: per pixel `stride` floats; per call. */
export interface AccLayout {
  stride: number;
  /** Floats between the channel runs of consecutive epilogue calls (groups). */
  groupStride: number;
  /** Channels per epilogue call, and calls per image. */
  groupChannels: number;
  calls: number;
}

export interface ConvPath {
  /** Floats per pixel of the NHWC image the kernels read. */
  readonly imageStride: number;
  /** Bytes the padding taps may read. */
  readonly zeroBytes: number;
  /** Output pixels per kernel tile: the indirection buffer's rows are padded to it. */
  readonly pixelMultiple: number;
  /** Whether run() checks the input for NaN and ±Inf itself (in its BFP pass). */
  readonly scansInput: boolean;
  readonly acc: AccLayout;
  /** Allocates the per-call scratch the kernels need; returns the accumulator pointer. */
  allocate(r: Runtime, hw: number, rows: number): number;
  /** Runs the kernels on one NHWC image into the accumulator; true if it met a NaN or ±Inf. */
  run(r: Runtime, image: number, hw: number, indir: number, rows: number, zero: number): boolean;
}

/** Copies data into wasm memory for the layer's lifetime (the layer frees it on dispose). */
export type Keep = (data: ArrayBufferView) => number;

/** Accumulator of the tiled kernels: [rows][groups][outputs padded to nr]. */
export function tiledAcc(g: Geometry, nr: number): AccLayout {
  const padded = roundUp(g.groupOutputs, nr);
  return { stride: g.groups * padded, groupStride: padded, groupChannels: g.groupOutputs, calls: g.groups };
}

/** Accumulator of the depthwise kernels: [pixels][channels padded to `multiple`]. */
export function depthwiseAcc(g: Geometry, multiple: number): AccLayout {
  const c = g.outChannels;
  return { stride: roundUp(c, multiple), groupStride: 0, groupChannels: c, calls: 1 };
}
