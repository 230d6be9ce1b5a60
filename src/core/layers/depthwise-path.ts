// Depthwise DSConv (a 'depthwise' record): one-channel BFP blocks dequantized exactly into
// bfloat16, ξ·q formed per call as float32, then the float depthwise kernel over all channels at
// once, widening each input as it loads it. The kernel reads each value about kh·kw times: half
// the bytes of float32 to stream through the cache, and a pass that writes half.
import type { Geometry } from '../geometry.js';
import type { Runtime } from '../runtime.js';
import type { Share } from '../threads/job.js';
import type { DepthwiseRecord } from '../kernel-table.js';
import type { BlockMode } from '../options.js';
import { BfpParam, ConvParam } from '../abi.js';
import { packDepthwise, roundUp } from '../pack.js';
import { bfpRecord } from '../records.js';
import { type AccLayout, type ConvPath, type FusedEpilogue, type Keep, type Lane, type LaneBytes, depthwiseAcc, writeEpilogue } from './path.js';

export class DepthwisePath implements ConvPath {
  readonly rowRuns = false;
  readonly imageStride: number;
  readonly zeroBytes: number;
  readonly pixelMultiple: number;
  readonly scansInput = true;
  readonly acc: AccLayout;
  /** The kernel runs every channel at once: it splits over rows only. */
  readonly channelTiles = 1;
  readonly tileChannels: number;
  readonly fusesEpilogue: boolean;
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
    this.tileChannels = g.outChannels;
    this.fusesEpilogue = this.cp === g.outChannels;
  }

  allocate(r: Runtime, hw: number, rows: number, _shares: number, lanes: number): LaneBytes {
    const s = r.scratch;
    const lane = { mant: hw * this.cp * 2, scale: 0, acc: rows * this.cp * 4 };
    s.mant.ensure(lane.mant * lanes);
    s.weights.ensure(this.g.kh * this.g.kw * this.cp * 4);
    s.acc.ensure(lane.acc * lanes);
    return lane;
  }

  pass(x: Share, _r: Runtime, image: number, p0: number, p1: number, lane: Lane): void {
    const { g, cp } = this;
    const q = bfpRecord(x.record(BfpParam.count), image + p0 * this.imageStride * 4, p1 - p0, this.imageStride, g.inChannels, 1, 1, 1, this.mantissaBits);
    q[BfpParam.dst] = lane.mant + p0 * cp * 2; q[BfpParam.dstStride] = cp;
    x.call(this.rec.bfp, x.ptr);
  }

  prepare(x: Share, r: Runtime): void {
    x.call(this.rec.weights, this.wPtr, this.xiPtr, this.xiTapStride, this.g.kh * this.g.kw, this.cp, r.scratch.weights.ptr);
  }

  kernel(x: Share, r: Runtime, _image: number, indir: number, r0: number, r1: number, _t0: number, _t1: number, zero: number, lane: Lane,
    epi?: FusedEpilogue): void {
    const { cp } = this;
    const s = r.scratch;
    const taps = this.g.kh * this.g.kw;
    const p = x.record(ConvParam.count);
    p[ConvParam.indirection] = indir + r0 * taps * 4; p[ConvParam.npix] = r1 - r0; p[ConvParam.taps] = taps;
    p[ConvParam.input] = lane.mant; p[ConvParam.inputStride] = cp; p[ConvParam.zeroInput] = zero;
    p[ConvParam.channels] = cp; p[ConvParam.weights] = s.weights.ptr;
    p[ConvParam.output] = (epi ? epi.dst : lane.acc) + r0 * cp * 4; p[ConvParam.outputStride] = cp;
    if (epi) writeEpilogue(p, x.f32(), epi);
    x.call(this.rec.kernel, x.ptr);
  }
}
