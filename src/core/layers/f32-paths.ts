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
      r.k[this.rec.kernel](r.record(ConvParam, {
        indirection: indir, npix: rows, taps: g.kh * g.kw, input: image + grp * g.groupChannels * 4,
        inputStride: this.imageStride, zeroInput: zero, channels: g.groupChannels,
        weights: this.wPtr + grp * this.groupFloats * 4, nTiles: this.acc.groupStride / this.rec.nr,
        output: acc + grp * this.acc.groupStride * 4, outputStride: this.acc.stride,
      }));
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
    r.k[this.rec.kernel](r.record(ConvParam, {
      indirection: indir, npix: rows, taps: this.g.kh * this.g.kw, input: image, inputStride: cp, zeroInput: zero,
      channels: cp, weights: this.wPtr, output: r.scratch.acc.ptr, outputStride: cp,
    }));
    return false;
  }
}
