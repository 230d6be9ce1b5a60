// Depthwise DSConv (a 'depthwise' record): one-channel BFP blocks dequantized exactly, ξ·q formed
// per call, then the float depthwise kernel over all channels at once.
import type { Geometry } from '../geometry.js';
import type { Runtime } from '../runtime.js';
import type { DepthwiseRecord } from '../kernel-table.js';
import type { BlockMode } from '../options.js';
import { BfpParam, ConvParam } from '../abi.js';
import { packDepthwise, roundUp } from '../pack.js';
import { bfpRecord } from '../records.js';
import { type AccLayout, type ConvPath, type Keep, depthwiseAcc } from './path.js';

export class DepthwisePath implements ConvPath {
  readonly imageStride: number;
  readonly zeroBytes: number;
  readonly pixelMultiple: number;
  readonly scansInput = true;
  readonly acc: AccLayout;
  private readonly cp: number; // channels padded to the lanes
  private readonly wPtr: number;
  private readonly xiPtr: number;
  private readonly xiTapStride: number;

  constructor(private readonly g: Geometry, private readonly mantissaBits: number,
    private readonly rec: DepthwiseRecord, q: Int8Array, scales: Float32Array, mode: BlockMode, keep: Keep) {
    this.cp = roundUp(g.outChannels, rec.channelMultiple);
    this.wPtr = keep(packDepthwise(g, q, (n) => new Int8Array(n)));
    let xi: Float32Array;
    if (mode === 'taps') {
      xi = new Float32Array(this.cp);
      xi.set(scales);
    } else {
      xi = packDepthwise(g, scales, (n) => new Float32Array(n));
    }
    this.xiPtr = keep(xi);
    this.xiTapStride = mode === 'taps' ? 0 : this.cp;
    this.imageStride = g.inChannels;
    this.pixelMultiple = rec.mr;
    this.zeroBytes = this.cp * 4;
    this.acc = depthwiseAcc(g, rec.channelMultiple);
  }

  allocate(r: Runtime, hw: number, rows: number): number {
    const s = r.scratch;
    s.mant.ensure(hw * this.cp * 4);
    s.weights.ensure(this.g.kh * this.g.kw * this.cp * 4);
    return s.acc.ensure(rows * this.cp * 4);
  }

  run(r: Runtime, image: number, hw: number, indir: number, rows: number, zero: number): boolean {
    const { g, rec, cp } = this;
    const s = r.scratch;
    const taps = g.kh * g.kw;
    const q = bfpRecord(r, image, hw, this.imageStride, g.inChannels, 1, 1, 1, this.mantissaBits);
    q[BfpParam.dst] = s.mant.ptr; q[BfpParam.dstStride] = cp;
    if (r.k[rec.bfp](r.paramsPtr)) return true;
    r.k[rec.weights](this.wPtr, this.xiPtr, this.xiTapStride, taps, cp, s.weights.ptr);
    const p = r.params(ConvParam.count);
    p[ConvParam.indirection] = indir; p[ConvParam.npix] = rows; p[ConvParam.taps] = taps;
    p[ConvParam.input] = s.mant.ptr; p[ConvParam.inputStride] = cp; p[ConvParam.zeroInput] = zero;
    p[ConvParam.channels] = cp; p[ConvParam.weights] = s.weights.ptr; p[ConvParam.output] = s.acc.ptr; p[ConvParam.outputStride] = cp;
    r.k[rec.kernel](r.paramsPtr);
    return false;
  }
}
