// Integer DSConv (an 'igemm' record): BFP pass into mantissas and block records, then the
// integer micro-kernel per group, which also runs the epilogue where its tiles are the output's
// channels (no channel padding): the sums are then never written and read back by a pass.
import type { Geometry } from '../geometry.js';
import type { Runtime } from '../runtime.js';
import type { Share } from '../threads/job.js';
import type { IgemmRecord } from '../kernel-table.js';
import type { BlockMode } from '../options.js';
import { BfpParam, ConvParam } from '../abi.js';
import { type Blocks, packIgemm } from '../pack.js';
import { bfpRecord } from '../records.js';
import { type AccLayout, type ConvPath, type FusedEpilogue, type Keep, type Lane, type LaneBytes, tiledAcc, writeTileOutput } from './path.js';

export class IgemmPath implements ConvPath {
  readonly rowRuns = false;
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
  private readonly groupXiFloats: number;
  private readonly wideBytes: number; // one tile's widened weights, per thread

  constructor(private readonly g: Geometry, private readonly b: Blocks, private readonly mantissaBits: number,
    private readonly rec: IgemmRecord, q: Int8Array, scales: Float32Array, mode: BlockMode, keep: Keep) {
    const packed = packIgemm(g, b, q, scales, mode, rec);
    this.wPtr = keep(packed.weights);
    this.xiPtr = keep(packed.xi);
    this.groupWeightBytes = packed.groupWeightBytes;
    this.groupXiFloats = packed.groupXiFloats;
    this.imageStride = g.inChannels;
    this.pixelMultiple = rec.mr;
    // Padded taps read a zero block of mantissas and a zero record (the larger of the two).
    this.zeroBytes = b.nBlocks * b.paddedLen * 2;
    this.acc = tiledAcc(g, rec.nr);
    this.channelTiles = this.acc.groupStride / rec.nr;
    this.tileChannels = rec.nr;
    this.wideBytes = g.kh * g.kw * b.nBlocks * b.paddedLen * rec.wideBytesPerChannel;
    this.fusesEpilogue = g.groupOutputs % rec.nr === 0;
  }

  allocate(r: Runtime, hw: number, rows: number, shares: number, lanes: number): LaneBytes {
    const { g, b, rec } = this;
    const s = r.scratch;
    const slots = g.groups * b.nBlocks;
    const lane = { mant: hw * slots * b.paddedLen * rec.bfp.mantBytes, scale: hw * slots * rec.bfp.recordBytes, acc: rows * this.acc.stride * 4 };
    s.mant.ensure(lane.mant * lanes);
    s.scale.ensure(lane.scale * lanes);
    if (this.wideBytes > 0) s.weights.ensure(this.wideBytes * shares);
    s.acc.ensure(lane.acc * lanes);
    return lane;
  }

  pass(x: Share, _r: Runtime, image: number, p0: number, p1: number, lane: Lane): void {
    const { g, b, rec } = this;
    const slots = g.groups * b.nBlocks;
    // The relaxed kernels start each block from -z·ΣM, which the int8 pass writes beside its scale.
    const q = bfpRecord(x.record(BfpParam.count), image + p0 * this.imageStride * 4, p1 - p0, this.imageStride,
      g.groups, g.groupChannels, b.blockLen, b.nBlocks, this.mantissaBits);
    q[BfpParam.dst] = lane.mant + p0 * slots * b.paddedLen * rec.bfp.mantBytes; q[BfpParam.dstStride] = slots * b.paddedLen;
    q[BfpParam.paddedLen] = b.paddedLen;
    q[BfpParam.scale] = lane.scale + p0 * slots * rec.bfp.recordBytes; q[BfpParam.sumScale] = -rec.zeroPoint;
    x.call(rec.bfp.pass, x.ptr);
  }

  prepare(): void {}

  kernel(x: Share, r: Runtime, _image: number, indir: number, r0: number, r1: number, t0: number, t1: number, zero: number, lane: Lane,
    epi?: FusedEpilogue): void {
    const { g, b, rec } = this;
    const s = r.scratch;
    const slots = g.groups * b.nBlocks;
    const taps = g.kh * g.kw;
    const { mantBytes, recordBytes } = rec.bfp;
    const tileBytes = this.groupWeightBytes / this.channelTiles;
    const tileXi = this.groupXiFloats / this.channelTiles;
    for (let grp = 0; grp < g.groups; grp++) {
      const p = x.record(ConvParam.count);
      p[ConvParam.indirection] = indir + r0 * taps * 4; p[ConvParam.npix] = r1 - r0; p[ConvParam.taps] = taps;
      p[ConvParam.input] = lane.mant + grp * b.nBlocks * b.paddedLen * mantBytes;
      p[ConvParam.inputStride] = slots * b.paddedLen; p[ConvParam.zeroInput] = zero;
      p[ConvParam.scale] = lane.scale + grp * b.nBlocks * recordBytes; p[ConvParam.scaleStride] = slots; p[ConvParam.zeroScale] = zero;
      p[ConvParam.nBlocks] = b.nBlocks; p[ConvParam.paddedLen] = b.paddedLen;
      p[ConvParam.weights] = this.wPtr + grp * this.groupWeightBytes + t0 * tileBytes;
      p[ConvParam.xi] = this.xiPtr + (grp * this.groupXiFloats + t0 * tileXi) * 4;
      p[ConvParam.nTiles] = t1 - t0;
      writeTileOutput(x, p, g, this.acc, lane, r0, grp, t0, rec.nr, epi);
      p[ConvParam.wide] = s.weights.ptr + x.index * this.wideBytes;
      x.call(rec.kernel, x.ptr);
    }
  }
}
