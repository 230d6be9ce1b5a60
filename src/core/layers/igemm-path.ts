// Integer DSConv (an 'igemm' record): BFP pass into mantissas and block records, then the
// integer micro-kernel per group.
import type { Geometry } from '../geometry.js';
import type { Runtime } from '../runtime.js';
import type { IgemmRecord } from '../kernel-table.js';
import type { BlockMode } from '../options.js';
import { BfpParam, ConvParam } from '../abi.js';
import { type Blocks, packIgemm } from '../pack.js';
import { bfpRecord } from '../records.js';
import { type AccLayout, type ConvPath, type Keep, tiledAcc } from './path.js';

export class IgemmPath implements ConvPath {
  readonly imageStride: number;
  readonly zeroBytes: number;
  readonly pixelMultiple: number;
  readonly scansInput = true;
  readonly acc: AccLayout;
  private readonly wPtr: number;
  private readonly xiPtr: number;
  private readonly groupWeightBytes: number;
  private readonly groupXiFloats: number;

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
  }

  allocate(r: Runtime, hw: number, rows: number): number {
    const { g, b, rec } = this;
    const s = r.scratch;
    const slots = g.groups * b.nBlocks;
    s.mant.ensure(hw * slots * b.paddedLen * rec.bfp.mantBytes);
    s.scale.ensure(hw * slots * rec.bfp.recordBytes);
    if (rec.wideBytesPerChannel > 0) s.weights.ensure(g.kh * g.kw * b.nBlocks * b.paddedLen * rec.wideBytesPerChannel);
    return s.acc.ensure(rows * this.acc.stride * 4);
  }

  run(r: Runtime, image: number, hw: number, indir: number, rows: number, zero: number): boolean {
    const { g, b, rec } = this;
    const s = r.scratch;
    const slots = g.groups * b.nBlocks;
    const { mantBytes, recordBytes } = rec.bfp;
    // The relaxed kernels start each block from -z·ΣM, which the int8 pass writes beside its scale.
    const q = bfpRecord(r, image, hw, this.imageStride, g.groups, g.groupChannels, b.blockLen, b.nBlocks, this.mantissaBits);
    q[BfpParam.dst] = s.mant.ptr; q[BfpParam.dstStride] = slots * b.paddedLen; q[BfpParam.paddedLen] = b.paddedLen;
    q[BfpParam.scale] = s.scale.ptr; q[BfpParam.sumScale] = -rec.zeroPoint;
    if (r.k[rec.bfp.pass](r.paramsPtr)) return true;
    const kernel = r.k[rec.kernel]!;
    for (let grp = 0; grp < g.groups; grp++) {
      const p = r.params(ConvParam.count);
      p[ConvParam.indirection] = indir; p[ConvParam.npix] = rows; p[ConvParam.taps] = g.kh * g.kw;
      p[ConvParam.input] = s.mant.ptr + grp * b.nBlocks * b.paddedLen * mantBytes;
      p[ConvParam.inputStride] = slots * b.paddedLen; p[ConvParam.zeroInput] = zero;
      p[ConvParam.scale] = s.scale.ptr + grp * b.nBlocks * recordBytes; p[ConvParam.scaleStride] = slots; p[ConvParam.zeroScale] = zero;
      p[ConvParam.nBlocks] = b.nBlocks; p[ConvParam.paddedLen] = b.paddedLen;
      p[ConvParam.weights] = this.wPtr + grp * this.groupWeightBytes; p[ConvParam.xi] = this.xiPtr + grp * this.groupXiFloats * 4;
      p[ConvParam.nTiles] = this.acc.groupStride / rec.nr;
      p[ConvParam.output] = s.acc.ptr + grp * this.acc.groupStride * 4; p[ConvParam.outputStride] = this.acc.stride;
      p[ConvParam.wide] = s.weights.ptr;
      kernel(r.paramsPtr);
    }
    return false;
  }
}
