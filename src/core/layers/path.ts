// What the shared forward path (conv-layer.ts) asks of an execution path: one class per kernel-
// table record kind, each holding only what its kernels read. A path writes its kernel calls
// into a job's shares (threads/job.ts) for the ranges the forward path hands it: runs of input
// pixels for its pass, and output rows x channel tiles for its kernel.
import type { Geometry, RowLayout } from '../geometry.js';
import type { Runtime } from '../runtime.js';
import type { Share } from '../threads/job.js';
import { roundUp } from '../pack.js';
import { ConvParam } from '../abi.js';

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
  /** Whether the kernel reads row runs (geometry.ts RowLayout) from the lane's row image, which its pass writes. */
  readonly rowRuns: boolean;
  /** Bytes the padding taps may read. */
  readonly zeroBytes: number;
  /** Output pixels per kernel tile: the indirection buffer's rows are padded to it. */
  readonly pixelMultiple: number;
  /** Whether run() checks the input for NaN and ±Inf itself (in its BFP pass). */
  readonly scansInput: boolean;
  readonly acc: AccLayout;
  /** Tiles of `tileChannels` output channels per group: the kernel's range splits over them (1: it cannot). */
  readonly channelTiles: number;
  readonly tileChannels: number;
  /**
   * Allocates the per-call scratch for `shares` threads and `lanes` images in flight at once
   * (each lane its own pass output and accumulator); returns the bytes of one lane of each.
   */
  allocate(r: Runtime, hw: number, rows: number, shares: number, lanes: number): LaneBytes;
  /**
   * The pass over input pixels [p0, p1) of the NHWC image (BFP; none for float paths). Its calls
   * return 1 on a NaN or ±Inf (the input is then scanned to name it). The image may be the
   * caller's input itself, read in place, so a pass writes only into its lane. With `rows` (given
   * exactly where rowRuns), p0 and p1 are whole rows, and the pass also writes them to the row image.
   */
  pass(x: Share, r: Runtime, image: number, p0: number, p1: number, lane: Lane, rows?: RowLayout): void;
  /** Per-call work the kernels read and no pass writes (dequantized weights), on one share. */
  prepare(x: Share, r: Runtime): void;
  /** Whether kernel() can apply the epilogue itself, writing NHWC output (see FusedEpilogue). */
  readonly fusesEpilogue: boolean;
  /**
   * The kernel over output rows [r0, r1) (multiples of pixelMultiple) and channel tiles [t0, t1)
   * of every group: into the lane's accumulator, or, given `epi` (only where fusesEpilogue),
   * through the epilogue into the output.
   */
  kernel(x: Share, r: Runtime, image: number, indir: number, r0: number, r1: number, t0: number, t1: number, zero: number, lane: Lane,
    epi?: FusedEpilogue): void;
}

/**
 * The epilogue done by the kernel: an image's NHWC output at `dst` (pixel stride outChannels),
 * per-channel scale and shift at `scale`, `shift` (wasm offsets), clamped to [lo, hi]. For paths
 * whose accumulator already has the output's layout, so the sums need not be written and read
 * back by a pass of their own.
 */
export interface FusedEpilogue {
  dst: number;
  scale: number;
  shift: number;
  lo: number;
  hi: number;
}

/** Writes a fused epilogue's fields into a ConvParam record `p` (its f32 view `f`). */
export function writeEpilogue(p: Int32Array, f: Float32Array, epi: FusedEpilogue): void {
  p[ConvParam.epiScale] = epi.scale; p[ConvParam.epiShift] = epi.shift;
  f[ConvParam.lo] = epi.lo; f[ConvParam.hi] = epi.hi;
}

/**
 * Where a tiled kernel's call writes, from output row r0, group grp, channel tile t0: the lane's
 * accumulator, or given `epi`, the NHWC output through the fused epilogue (outputs of group grp
 * from tile t0 on: the scale and shift from that channel).
 */
export function writeTileOutput(x: Share, p: Int32Array, g: Geometry, acc: AccLayout, lane: Lane, r0: number, grp: number, t0: number, nr: number,
  epi?: FusedEpilogue): void {
  if (epi) {
    const c0 = grp * g.groupOutputs + t0 * nr;
    p[ConvParam.output] = epi.dst + (r0 * g.outChannels + c0) * 4; p[ConvParam.outputStride] = g.outChannels;
    writeEpilogue(p, x.f32(), { ...epi, scale: epi.scale + c0 * 4, shift: epi.shift + c0 * 4 });
  } else {
    p[ConvParam.output] = lane.acc + (r0 * acc.stride + grp * acc.groupStride + t0 * nr) * 4;
    p[ConvParam.outputStride] = acc.stride;
  }
}

/**
 * One image's per-call buffers: the pass's output (mantissas or exact floats), its block records,
 * the accumulator, the padded copy for row runs (0 without).
 */
export interface Lane {
  mant: number;
  scale: number;
  acc: number;
  rowImage: number;
}

/** The bytes of one lane's buffers that a path allocates (the row image is the forward path's). */
export type LaneBytes = Omit<Lane, 'rowImage'>;

/**
 * Channels per tap up to which the float kernel reads row runs. On the kernel alone, measured
 * 1.25x on a 7x7 3-channel stem and 1.0-1.16x on 3x3 taps of 4 to 16 channels; past 8 the gain is
 * small next to the row image's copy and memory.
 */
const ROW_RUN_CHANNELS = 8;

/** Whether a float-kernel path reads row runs (geometry.ts RowLayout) for geometry g. */
export function readsRowRuns(g: Geometry): boolean {
  return g.groups === 1 && g.kw > 1 && g.dilation[1] === 1 && g.groupChannels <= ROW_RUN_CHANNELS;
}

/** [taps, channels per tap] as the float kernel walks them: with row runs, a row of kw taps is one tap. */
export function floatTaps(g: Geometry, rowRuns: boolean): [number, number] {
  return rowRuns ? [g.kh, g.kw * g.groupChannels] : [g.kh * g.kw, g.groupChannels];
}

/**
 * Copies NHWC rows [y0, y1) from `src` (pixel stride rows.channels) into the padded copy at `dst`:
 * each row as one run, then zeros up to the next row's first pixel (its right and the next row's
 * left padding); row 0 also zeros its own left padding. Threads copying other rows touch none of it.
 */
export function padRows(x: Share, src: number, y0: number, y1: number, rows: RowLayout, dst: number): void {
  const { width, channels, pitch, left } = rows;
  if (y0 === 0 && left > 0) x.call('f32_repack', dst, 1, 0, 0, dst, left * channels);
  x.call('f32_repack', src + y0 * width * channels * 4, y1 - y0, width * channels, width * channels,
    dst + (y0 * pitch + left) * channels * 4, pitch * channels);
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

/** Part i of `parts` near-equal runs of [0, n), their starts aligned down to `align`. */
export function part(n: number, parts: number, i: number, align: number): [number, number] {
  const at = (k: number) => (k === parts ? n : Math.floor(Math.floor((n * k) / parts) / align) * align);
  return [at(i), at(i + 1)];
}

/**
 * How to split `rowTiles` x `channelTiles` kernel tiles over at most `shares` threads: parts
 * along rows and along channel tiles, with the smallest largest share. On a tie, more channel
 * parts: each thread then widens only its own tiles' weights instead of all of them.
 */
export function splitTiles(rowTiles: number, channelTiles: number, shares: number): [number, number] {
  let best: [number, number] = [1, 1];
  let bestCost = Infinity;
  for (let cp = Math.min(shares, channelTiles); cp >= 1; cp--) {
    const rp = Math.min(Math.floor(shares / cp), rowTiles);
    const cost = Math.ceil(rowTiles / rp) * Math.ceil(channelTiles / cp);
    if (cost < bestCost) {
      bestCost = cost;
      best = [rp, cp];
    }
  }
  return best;
}
