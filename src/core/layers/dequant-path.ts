// DSConv on short blocks (a 'dequant' record): activations and weights dequantized exactly per
// call, then the float kernel per group.
import type { Geometry, RowLayout } from '../geometry.js';
import type { Runtime } from '../runtime.js';
import type { Share } from '../threads/job.js';
import type { DequantRecord } from '../kernel-table.js';
import type { BlockMode } from '../options.js';
import { BfpParam, ConvParam } from '../abi.js';
import { type Blocks, packDequant } from '../pack.js';
import { bfpRecord } from '../records.js';
import {
  type AccLayout, type ConvPath, type FusedEpilogue, type Keep, type Lane, type LaneBytes,
  floatTaps, padRows, readsRowRuns, tiledAcc, writeTileOutput,
} from './path.js';

export class DequantPath implements ConvPath {
  readonly rowRuns: boolean;
  readonly imageStride: number;
  readonly zeroBytes: number;
  readonly pixelMultiple: number;
  readonly scansInput = true;
  readonly acc: AccLayout;
  readonly channelTiles: number;
  readonly tileChannels: number;
  readonly fusesEpilogue: boolean;
  private readonly wPtr: number;
  private readonly xiPtr: number;
  private readonly groupWeightBytes: number;

  constructor(private readonly g: Geometry, private readonly b: Blocks, private readonly mantissaBits: number,
    private readonly rec: DequantRecord, q: Int8Array, scales: Float32Array, mode: BlockMode, keep: Keep) {
    const packed = packDequant(g, b, q, scales, mode);
    this.wPtr = keep(packed.weights);
    this.xiPtr = keep(packed.xi);
    this.groupWeightBytes = packed.groupWeightBytes;
    this.rowRuns = readsRowRuns(g);
    this.imageStride = g.inChannels;
    this.pixelMultiple = rec.mr;
    this.zeroBytes = Math.max(b.nBlocks * b.paddedLen * 2, floatTaps(g, this.rowRuns)[1] * 4);
    this.acc = tiledAcc(g, rec.nr);
    this.channelTiles = this.acc.groupStride / rec.nr;
    this.tileChannels = rec.nr;
    this.fusesEpilogue = g.groupOutputs % rec.nr === 0;
  }

  allocate(r: Runtime, hw: number, rows: number, _shares: number, lanes: number): LaneBytes {
    const s = r.scratch;
    const lane = { mant: hw * this.g.inChannels * 4, scale: 0, acc: rows * this.acc.stride * 4 };
    s.mant.ensure(lane.mant * lanes);
    s.weights.ensure(this.groupWeightBytes * this.g.groups * 4);
    s.acc.ensure(lane.acc * lanes);
    return lane;
  }

  pass(x: Share, _r: Runtime, image: number, p0: number, p1: number, lane: Lane, rows?: RowLayout): void {
    const { g, b, rec } = this;
    const q = bfpRecord(x.record(BfpParam.count), image + p0 * this.imageStride * 4, p1 - p0, this.imageStride,
      g.groups, g.groupChannels, b.blockLen, b.nBlocks, this.mantissaBits);
    q[BfpParam.dst] = lane.mant + p0 * g.inChannels * 4; q[BfpParam.dstStride] = g.inChannels;
    x.call(rec.bfp, x.ptr);
    if (rows) padRows(x, lane.mant, p0 / rows.width, p1 / rows.width, rows, lane.rowImage);
  }

  prepare(x: Share, r: Runtime): void {
    const { g, b } = this;
    x.call(this.rec.weights, this.wPtr, this.xiPtr, g.groups * this.channelTiles * g.kh * g.kw, g.groupChannels, b.blockLen, b.nBlocks, r.scratch.weights.ptr);
  }

  kernel(x: Share, r: Runtime, _image: number, indir: number, r0: number, r1: number, t0: number, t1: number, zero: number, lane: Lane,
    epi?: FusedEpilogue): void {
    const g = this.g;
    const s = r.scratch;
    const cg = g.groupChannels;
    const [taps, channels] = floatTaps(g, this.rowRuns);
    const tileFloats = this.groupWeightBytes / this.channelTiles;
    for (let grp = 0; grp < g.groups; grp++) {
      const p = x.record(ConvParam.count);
      p[ConvParam.indirection] = indir + r0 * taps * 4; p[ConvParam.npix] = r1 - r0; p[ConvParam.taps] = taps;
      p[ConvParam.input] = this.rowRuns ? lane.rowImage : lane.mant + grp * cg * 4;
      p[ConvParam.inputStride] = g.inChannels; p[ConvParam.zeroInput] = zero;
      p[ConvParam.channels] = channels; p[ConvParam.weights] = s.weights.ptr + (grp * this.groupWeightBytes + t0 * tileFloats) * 4;
      p[ConvParam.nTiles] = t1 - t0;
      writeTileOutput(x, p, g, this.acc, lane, r0, grp, t0, this.rec.nr, epi);
      x.call(this.rec.kernel, x.ptr);
    }
  }
}
