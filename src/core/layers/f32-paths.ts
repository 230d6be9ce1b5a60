// The float32 baseline's paths (Conv2d): the tiled kernel per group, and the depthwise kernel.
import type { Geometry } from '../geometry.js';
import type { Runtime } from '../runtime.js';
import type { FloatRecord } from '../kernel-table.js';
import { ConvParam } from '../abi.js';
import { packDepthwise, packFloat, roundUp } from '../pack.js';
import { type AccLayout, type ConvPath, type Keep, depthwiseAcc, tiledAcc } from './path.js';

export class F32IgemmPath implements ConvPath {
  readonly imageStride: number;
  readonly zeroBytes: number;
  readonly pixelMultiple: number;
  readonly scansInput = false;
  readonly acc: AccLayout;
  private readonly wPtr: number;
  private readonly groupFloats: number;

  constructor(private readonly g: Geometry, private readonly rec: FloatRecord, weights: Float32Array, keep: Keep) {
    const packed = packFloat(g, weights);
    this.wPtr = keep(packed.weights);
    this.groupFloats = packed.groupFloats;
    this.imageStride = g.inChannels;
    this.zeroBytes = g.groupChannels * 4;
    this.pixelMultiple = rec.mr;
    this.acc = tiledAcc(g, rec.nr);
  }

  allocate(r: Runtime, _hw: number, rows: number): number {
    return r.scratch.acc.ensure(rows * this.acc.stride * 4);
  }

  run(r: Runtime, image: number, _hw: number, indir: number, rows: number, zero: number): boolean {
    const g = this.g;
    const acc = r.scratch.acc.ptr;
    for (let grp = 0; grp < g.groups; grp++) {
      const p = r.params(ConvParam.count);
      p[ConvParam.indirection] = indir; p[ConvParam.npix] = rows; p[ConvParam.taps] = g.kh * g.kw;
      p[ConvParam.input] = image + grp * g.groupChannels * 4; p[ConvParam.inputStride] = this.imageStride; p[ConvParam.zeroInput] = zero;
      p[ConvParam.channels] = g.groupChannels; p[ConvParam.weights] = this.wPtr + grp * this.groupFloats * 4;
      p[ConvParam.nTiles] = this.acc.groupStride / this.rec.nr;
      p[ConvParam.output] = acc + grp * this.acc.groupStride * 4; p[ConvParam.outputStride] = this.acc.stride;
      r.k[this.rec.kernel](r.paramsPtr);
    }
    return false;
  }
}

export class F32DwconvPath implements ConvPath {
  readonly imageStride: number;
  readonly zeroBytes: number;
  readonly pixelMultiple: number;
  readonly scansInput = false;
  readonly acc: AccLayout;
  private readonly wPtr: number;

  constructor(private readonly g: Geometry, private readonly rec: FloatRecord, weights: Float32Array, keep: Keep) {
    this.wPtr = keep(packDepthwise(g, weights, (n) => new Float32Array(n)));
    // The input is repacked to a channel stride padded to the lanes.
    this.imageStride = roundUp(g.inChannels, rec.channelMultiple);
    this.zeroBytes = this.imageStride * 4;
    this.pixelMultiple = rec.mr;
    this.acc = depthwiseAcc(g, rec.channelMultiple);
  }

  allocate(r: Runtime, _hw: number, rows: number): number {
    return r.scratch.acc.ensure(rows * this.acc.stride * 4);
  }

  run(r: Runtime, image: number, _hw: number, indir: number, rows: number, zero: number): boolean {
    const cp = this.imageStride;
    const p = r.params(ConvParam.count);
    p[ConvParam.indirection] = indir; p[ConvParam.npix] = rows; p[ConvParam.taps] = this.g.kh * this.g.kw;
    p[ConvParam.input] = image; p[ConvParam.inputStride] = cp; p[ConvParam.zeroInput] = zero;
    p[ConvParam.channels] = cp; p[ConvParam.weights] = this.wPtr; p[ConvParam.output] = r.scratch.acc.ptr; p[ConvParam.outputStride] = cp;
    r.k[this.rec.kernel](r.paramsPtr);
    return false;
  }
}
