// The float32 baseline's paths (Conv2d): the tiled kernel per group, and the depthwise kernel.
import type { Geometry, RowLayout } from '../geometry.js';
import type { Runtime } from '../runtime.js';
import type { Share } from '../threads/job.js';
import type { FloatRecord } from '../kernel-table.js';
import { ConvParam } from '../abi.js';
import { packDepthwise, packFloat, roundUp } from '../pack.js';
import {
  type AccLayout, type ConvPath, type FusedEpilogue, type Keep, type Lane, type LaneBytes,
  depthwiseAcc, floatTaps, padRows, readsRowRuns, tiledAcc, writeEpilogue, writeTileOutput,
} from './path.js';

export class F32IgemmPath implements ConvPath {
  readonly rowRuns: boolean;
  readonly imageStride: number;
  readonly zeroBytes: number;
  readonly pixelMultiple: number;
  readonly scansInput = false;
  readonly acc: AccLayout;
  readonly channelTiles: number;
  readonly tileChannels: number;
  readonly fusesEpilogue: boolean;
  private readonly wPtr: number;
  private readonly groupFloats: number;

  constructor(private readonly g: Geometry, private readonly rec: FloatRecord, weights: Float32Array, keep: Keep) {
    const packed = packFloat(g, weights);
    this.wPtr = keep(packed.weights);
    this.groupFloats = packed.groupFloats;
    this.rowRuns = readsRowRuns(g);
    this.imageStride = g.inChannels;
    this.zeroBytes = floatTaps(g, this.rowRuns)[1] * 4;
    this.pixelMultiple = rec.mr;
    this.acc = tiledAcc(g, rec.nr);
    this.channelTiles = this.acc.groupStride / rec.nr;
    this.tileChannels = rec.nr;
    this.fusesEpilogue = g.groupOutputs % rec.nr === 0;
  }

  allocate(r: Runtime, _hw: number, rows: number, _shares: number, lanes: number): LaneBytes {
    return accumulatorOnly(r, rows * this.acc.stride * 4, lanes);
  }

  /** No pass but the padded copy for row runs: the float kernel reads the image itself. */
  pass(x: Share, _r: Runtime, image: number, p0: number, p1: number, lane: Lane, rows?: RowLayout): void {
    if (rows) padRows(x, image, p0 / rows.width, p1 / rows.width, rows, lane.rowImage);
  }

  prepare(): void {}

  kernel(x: Share, _r: Runtime, image: number, indir: number, r0: number, r1: number, t0: number, t1: number, zero: number, lane: Lane,
    epi?: FusedEpilogue): void {
    const g = this.g;
    const [taps, channels] = floatTaps(g, this.rowRuns);
    const tileFloats = this.groupFloats / this.channelTiles;
    for (let grp = 0; grp < g.groups; grp++) {
      const p = x.record(ConvParam.count);
      p[ConvParam.indirection] = indir + r0 * taps * 4; p[ConvParam.npix] = r1 - r0; p[ConvParam.taps] = taps;
      p[ConvParam.input] = this.rowRuns ? lane.rowImage : image + grp * g.groupChannels * 4;
      p[ConvParam.inputStride] = this.imageStride; p[ConvParam.zeroInput] = zero;
      p[ConvParam.channels] = channels; p[ConvParam.weights] = this.wPtr + (grp * this.groupFloats + t0 * tileFloats) * 4;
      p[ConvParam.nTiles] = t1 - t0;
      writeTileOutput(x, p, g, this.acc, lane, r0, grp, t0, this.rec.nr, epi);
      x.call(this.rec.kernel, x.ptr);
    }
  }
}

export class F32DwconvPath implements ConvPath {
  readonly rowRuns = false;
  readonly imageStride: number;
  readonly zeroBytes: number;
  readonly pixelMultiple: number;
  readonly scansInput = false;
  readonly acc: AccLayout;
  /** The kernel runs every channel at once: it splits over rows only. */
  readonly channelTiles = 1;
  readonly tileChannels: number;
  readonly fusesEpilogue: boolean;
  private readonly wPtr: number;

  constructor(private readonly g: Geometry, private readonly rec: FloatRecord, weights: Float32Array, keep: Keep) {
    this.wPtr = keep(packDepthwise(g, weights, (n) => new Float32Array(n)));
    // The input is repacked to a channel stride padded to the lanes.
    this.imageStride = roundUp(g.inChannels, rec.channelMultiple);
    this.zeroBytes = this.imageStride * 4;
    this.pixelMultiple = rec.mr;
    this.acc = depthwiseAcc(g, rec.channelMultiple);
    this.tileChannels = g.outChannels;
    this.fusesEpilogue = this.imageStride === g.outChannels;
  }

  allocate(r: Runtime, _hw: number, rows: number, _shares: number, lanes: number): LaneBytes {
    return accumulatorOnly(r, rows * this.acc.stride * 4, lanes);
  }

  /** No pass: the float kernels read the image itself. */
  pass(): void {}

  prepare(): void {}

  kernel(x: Share, _r: Runtime, image: number, indir: number, r0: number, r1: number, _t0: number, _t1: number, zero: number, lane: Lane,
    epi?: FusedEpilogue): void {
    const cp = this.imageStride;
    const taps = this.g.kh * this.g.kw;
    const p = x.record(ConvParam.count);
    p[ConvParam.indirection] = indir + r0 * taps * 4; p[ConvParam.npix] = r1 - r0; p[ConvParam.taps] = taps;
    p[ConvParam.input] = image; p[ConvParam.inputStride] = cp; p[ConvParam.zeroInput] = zero;
    p[ConvParam.channels] = cp; p[ConvParam.weights] = this.wPtr;
    p[ConvParam.output] = (epi ? epi.dst : lane.acc) + r0 * cp * 4; p[ConvParam.outputStride] = cp;
    if (epi) writeEpilogue(p, x.f32(), epi);
    x.call(this.rec.kernel, x.ptr);
  }
}

/** The float paths' only scratch: the accumulator, one per lane. */
function accumulatorOnly(r: Runtime, accBytes: number, lanes: number): LaneBytes {
  r.scratch.acc.ensure(accBytes * lanes);
  return { mant: 0, scale: 0, acc: accBytes };
}
