// DSConv on short blocks (a 'dequant' record): activations and weights dequantized exactly per
// call, then the float kernel per group.
import type { Geometry } from '../geometry.js';
import type { Runtime } from '../runtime.js';
import type { DequantRecord } from '../kernel-table.js';
import type { BlockMode } from '../options.js';
import { BfpParam, ConvParam } from '../abi.js';
import { type Blocks, packDequant } from '../pack.js';
import { bfpRecord } from '../records.js';
import { type AccLayout, type ConvPath, type Keep, tiledAcc } from './path.js';

export class DequantPath implements ConvPath {
  readonly imageStride: number;
  readonly zeroBytes: number;
  readonly pixelMultiple: number;
  readonly scansInput = true;
  readonly acc: AccLayout;
  private readonly wPtr: number;
  private readonly xiPtr: number;
  private readonly groupWeightBytes: number;

  constructor(private readonly g: Geometry, private readonly b: Blocks, private readonly mantissaBits: number,
    private readonly rec: DequantRecord, q: Int8Array, scales: Float32Array, mode: BlockMode, keep: Keep) {
    const packed = packDequant(g, b, q, scales, mode);
    this.wPtr = keep(packed.weights);
    this.xiPtr = keep(packed.xi);
    this.groupWeightBytes = packed.groupWeightBytes;
    this.imageStride = g.inChannels;
    this.pixelMultiple = rec.mr;
    this.zeroBytes = Math.max(b.nBlocks * b.paddedLen * 2, g.groupChannels * 4);
    this.acc = tiledAcc(g, rec.nr);
  }

  allocate(r: Runtime, hw: number, rows: number): number {
    const s = r.scratch;
    s.mant.ensure(hw * this.g.inChannels * 4);
    s.weights.ensure(this.groupWeightBytes * this.g.groups * 4);
    return s.acc.ensure(rows * this.acc.stride * 4);
  }

  run(r: Runtime, image: number, hw: number, indir: number, rows: number, zero: number): boolean {
    const { g, b, rec } = this;
    const s = r.scratch;
    const cg = g.groupChannels;
    const taps = g.kh * g.kw;
    const nTiles = this.acc.groupStride / rec.nr;
    const q = bfpRecord(r, image, hw, this.imageStride, g.groups, cg, b.blockLen, b.nBlocks, this.mantissaBits);
    q[BfpParam.dst] = s.mant.ptr; q[BfpParam.dstStride] = g.inChannels;
    if (r.k[rec.bfp](r.paramsPtr)) return true;
    r.k[rec.weights](this.wPtr, this.xiPtr, g.groups * nTiles * taps, cg, b.blockLen, b.nBlocks, s.weights.ptr);
    for (let grp = 0; grp < g.groups; grp++) {
      const p = r.params(ConvParam.count);
      p[ConvParam.indirection] = indir; p[ConvParam.npix] = rows; p[ConvParam.taps] = taps;
      p[ConvParam.input] = s.mant.ptr + grp * cg * 4; p[ConvParam.inputStride] = g.inChannels; p[ConvParam.zeroInput] = zero;
      p[ConvParam.channels] = cg; p[ConvParam.weights] = s.weights.ptr + grp * this.groupWeightBytes * 4; p[ConvParam.nTiles] = nTiles;
      p[ConvParam.output] = s.acc.ptr + grp * this.acc.groupStride * 4; p[ConvParam.outputStride] = this.acc.stride;
      r.k[rec.kernel](r.paramsPtr);
    }
    return false;
  }
}
