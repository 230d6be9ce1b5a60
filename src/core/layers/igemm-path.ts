// Integer DSConv (an 'igemm' record): BFP pass into mantissas and block records, then the
// integer micro-kernel per group.
import type { Geometry } from '../geometry.js';
import type { Runtime } from '../runtime.js';
import type { IgemmRecord } from '../kernel-table.js';
import type { BlockMode } from '../options.js';
import { BfpParam, ConvParam } from '../abi.js';
import { type Blocks, packIgemm } from '../pack.js';
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
    const nonFinite = r.k[rec.bfp.pass](r.record(BfpParam, {
      src: image, pixels: hw, srcStride: this.imageStride, groups: g.groups, groupChannels: g.groupChannels,
      blockLen: b.blockLen, nBlocks: b.nBlocks, mantissaBits: this.mantissaBits,
      dst: s.mant.ptr, dstStride: slots * b.paddedLen, paddedLen: b.paddedLen, scale: s.scale.ptr, sumScale: -rec.zeroPoint,
    }));
    if (nonFinite) return true;
    const kernel = r.k[rec.kernel]!;
    for (let grp = 0; grp < g.groups; grp++) {
      kernel(r.record(ConvParam, {
        indirection: indir, npix: rows, taps: g.kh * g.kw,
        input: s.mant.ptr + grp * b.nBlocks * b.paddedLen * mantBytes, inputStride: slots * b.paddedLen, zeroInput: zero,
        scale: s.scale.ptr + grp * b.nBlocks * recordBytes, scaleStride: slots, zeroScale: zero,
        nBlocks: b.nBlocks, paddedLen: b.paddedLen,
        weights: this.wPtr + grp * this.groupWeightBytes, xi: this.xiPtr + grp * this.groupXiFloats * 4,
        nTiles: this.acc.groupStride / rec.nr, output: s.acc.ptr + grp * this.acc.groupStride * 4, outputStride: this.acc.stride,
        wide: s.weights.ptr,
      }));
    }
    return false;
  }
}
