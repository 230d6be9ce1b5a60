// The forward path every layer shares: copy the input into wasm memory once, per image bring it
// to NHWC, run the layer's execution path (path.ts) over the indirection buffer, apply the
// epilogue into the output in the caller's layout, and copy the output out once. An input or
// output that already lies in the runtime's memory (a tfjs-wasm tensor, to a guest runtime) is
// read or written where it is instead.
import { type Geometry, type InputShape, type Plan, type RowLayout, plan, resolve, indirection, rowImageFloats, rowLayout } from '../geometry.js';
import { Scratch } from '../heap.js';
import { type Runtime, rt } from '../runtime.js';
import { EpilogueParam } from '../abi.js';
import { checkFinite, describe, viewOf } from '../validate.js';
import { type ConvPath, type Lane, part, splitTiles } from './path.js';
import { MAX_CALLS } from '../threads/control.js';

/** Calls one share may get per image: layout, pass, row image (two), a kernel and an epilogue per group, a barrier. */
const PER_IMAGE_CALLS = (groupCalls: number) => 5 + 2 * groupCalls;

export abstract class ConvLayer {
  readonly geometry: Readonly<Geometry>;
  protected readonly bias?: Float32Array;
  protected gamma?: Float32Array;
  protected delta?: Float32Array;
  /** Set by the subclass's constructor, from its kernel-table record. */
  protected abstract readonly path: ConvPath;
  /** The runtime the layer was made on, whose memory holds its buffers (runtime.ts withRuntime). */
  protected readonly runtime: Runtime;
  private disposed = false;
  private readonly owned = new Map<number, number>(); // pointer -> bytes of each buffer the layer keeps
  private readonly indir: Scratch;
  private indirKey = '';
  private epilogue = 0; // see epilogueBuffer()

  protected constructor(g: Geometry, bias: Float32Array | undefined) {
    this.geometry = g;
    this.bias = bias && bias.slice();
    this.runtime = rt();
    this.indir = new Scratch(this.runtime.heap);
  }

  /** [outHeight, outWidth] for an input of height x width. */
  outputSize(height: number, width: number): [number, number] {
    this.live();
    const p = resolve(this.geometry, { height, width });
    return [p.outHeight, p.outWidth];
  }

  /**
   * Runs the layer on `input` (float32, `shape.layout`, default NCHW) and returns the output,
   * batch x outChannels x outHeight x outWidth in `shape.outputLayout` (default: the input's
   * layout): written into `out` when given (a Float32Array of exactly that length, which is
   * returned; reusing one saves allocating a new array per call), else a new Float32Array.
   * The input is not modified. Views of the runtime's own memory are used in place; if the call
   * grows that memory, which detaches them, a new view of the output is returned.
   */
  forward(input: Float32Array, shape: InputShape, out?: Float32Array): Float32Array {
    const r = this.live();
    const g = this.geometry;
    const path = this.path;
    const p = plan(g, input, shape);
    const hw = p.height * p.width;
    const npix = p.outHeight * p.outWidth;
    const outLen = p.batch * g.outChannels * npix;
    // Sizes come from the validated shape, never from the input's own getters: a subclass can
    // override byteLength, and a copy sized by it would run past its block into another's.
    const inLen = p.batch * g.inChannels * hw;
    if (out !== undefined) {
      const dims = `${p.outputLayout} [${p.batch}]${p.outputLayout === 'NCHW' ? `[${g.outChannels}][${p.outHeight}][${p.outWidth}]` : `[${p.outHeight}][${p.outWidth}][${g.outChannels}]`}`;
      if (!(out instanceof Float32Array)) throw new TypeError(`out must be a Float32Array of length ${outLen} (${dims}), got ${describe(out)}`);
      const n = viewOf(out).length; // the engine's: kernels may write into it in place
      if (n !== outLen) throw new RangeError(`out must have length ${outLen} (${dims}), got ${n}`);
    }
    const mr = path.pixelMultiple;
    const rows = Math.ceil(npix / mr) * mr;
    const s = r.scratch;
    // Split by the whole batch's work: a batch of small images splits where one would not. A call
    // of many groups stays whole: each group is a kernel call, and a program holds MAX_CALLS.
    const shares = PER_IMAGE_CALLS(path.acc.calls) > MAX_CALLS / 4 ? 1
      : r.sharesFor(p.batch * npix * g.outChannels * g.kh * g.kw * g.groupChannels);
    // A batch that divides among the threads is split by whole images: no barriers, and each
    // thread has a lane of the scratch to itself. Otherwise every image is split over them all.
    const byImage = shares > 1 && p.batch % shares === 0;
    const lanes = byImage ? shares : 1;
    const perImage = byImage ? 1 : shares;

    // Offsets of views in place are read before allocating, which may detach them.
    const inAt = r.offsetOf(input), outAt = out === undefined ? -1 : r.offsetOf(out);
    const inPlace = inAt >= 0, outPlace = outAt >= 0;
    // Allocate first: growing memory detaches views, so data moves only after this point.
    const inPtr = inPlace ? inAt : s.input.ensure(inLen * 4);
    const outPtr = outPlace ? outAt : s.output.ensure(outLen * 4);
    const direct = p.layout === 'NHWC' && path.imageStride === g.inChannels;
    const imageBytes = hw * path.imageStride * 4;
    const imagePtr = direct ? 0 : s.image.ensure(imageBytes * lanes);
    const runs = path.rowRuns ? rowLayout(g, p) : undefined;
    const rowBytes = runs ? rowImageFloats(runs, p.height) * 4 : 0;
    const rowPtr = runs ? s.rowImage.ensure(rowBytes * lanes) : 0;
    const indirPtr = this.indirection(r, p, mr, runs);
    const zero = r.zeros(path.zeroBytes);
    const laneBytes = path.allocate(r, hw, rows, shares, lanes);
    const epi = this.epilogueBuffer();

    const source = inPlace ? r.f32(inPtr, inLen) : input;
    if (!inPlace) r.f32(inPtr, inLen).set(input);
    const scanned = path.scansInput;
    if (!scanned) checkFinite('input', source, r.k.f32_find_nonfinite(inPtr, inLen));
    const c = g.inChannels;
    const nchw = p.outputLayout === 'NCHW';
    const [lo, hi] = g.activation === 'relu' ? [0, Infinity] : g.activation === 'relu6' ? [0, 6] : [-Infinity, Infinity];
    const { stride, groupStride, groupChannels, calls } = path.acc;
    // Sums already in the NHWC output's order go through the epilogue inside the kernel, where no
    // padded row would land past the image (the tile kernels write whole tiles of rows).
    const fuse = path.fusesEpilogue && !nchw && rows === npix;
    const [rowParts, tileParts] = splitTiles(rows / mr, path.channelTiles, perImage);
    const job = r.job(shares);
    // Per-call weights, read by every kernel call: written first, before the first barrier.
    path.prepare(job.share(0), r);
    if (byImage) job.barrier();
    for (let n = 0; n < p.batch; n++) {
      const first = byImage ? n % shares : 0; // the image's first share, and its lane
      const lane: Lane = {
        mant: s.mant.ptr + first * laneBytes.mant, scale: s.scale.ptr + first * laneBytes.scale, acc: s.acc.ptr + first * laneBytes.acc,
        rowImage: rowPtr + first * rowBytes,
      };
      const src = inPtr + n * hw * c * 4;
      const imageAt = imagePtr + first * imageBytes;
      const image = direct ? src : imageAt;
      // Runs of input pixels (whole rows for row runs): the image to NHWC, then the pass over the
      // same run (no barrier between).
      for (let t = 0; t < perImage; t++) {
        const [a, b] = runs ? part(p.height, perImage, t, 1).map((y) => y * p.width) : part(hw, perImage, t, 4);
        if (a === b) continue;
        const x = job.share(first + t);
        if (p.layout === 'NCHW') x.call('f32_transpose', src + a * 4, c, b - a, hw, imageAt + a * path.imageStride * 4, path.imageStride);
        else if (!direct) x.call('f32_repack', src + a * c * 4, b - a, c, c, imageAt + a * path.imageStride * 4, path.imageStride);
        path.pass(x, r, image, a, b, lane, runs);
      }
      if (!byImage) job.barrier();
      // Output rows x channel tiles: the kernel, then the epilogue of what it wrote.
      const dst = outPtr + n * g.outChannels * npix * 4;
      for (let i = 0; i < rowParts; i++) {
        const [r0, r1] = part(rows / mr, rowParts, i, 1);
        for (let j = 0; j < tileParts; j++) {
          const [t0, t1] = part(path.channelTiles, tileParts, j, 1);
          if (r0 === r1 || t0 === t1) continue;
          const x = job.share(first + i * tileParts + j);
          if (fuse) {
            path.kernel(x, r, image, indirPtr, r0 * mr, r1 * mr, t0, t1, zero, lane, { dst, scale: epi, shift: epi + g.outChannels * 4, lo, hi });
            continue;
          }
          path.kernel(x, r, image, indirPtr, r0 * mr, r1 * mr, t0, t1, zero, lane);
          const p0 = r0 * mr, p1 = Math.min(r1 * mr, npix);
          const c0 = t0 * path.tileChannels, c1 = Math.min(t1 * path.tileChannels, groupChannels);
          for (let grp = 0; grp < calls; grp++) {
            const ch = grp * groupChannels + c0;
            const e = x.record(EpilogueParam.count);
            e[EpilogueParam.src] = lane.acc + (p0 * stride + grp * groupStride + c0) * 4; e[EpilogueParam.srcStride] = stride;
            e[EpilogueParam.pixels] = p1 - p0; e[EpilogueParam.channels] = c1 - c0;
            e[EpilogueParam.dst] = dst + (nchw ? ch * npix + p0 : ch + p0 * g.outChannels) * 4;
            e[EpilogueParam.dstPixStride] = nchw ? 1 : g.outChannels; e[EpilogueParam.dstChanStride] = nchw ? npix : 1;
            e[EpilogueParam.scale] = epi + ch * 4; e[EpilogueParam.shift] = epi + (g.outChannels + ch) * 4;
            const f = x.f32();
            f[EpilogueParam.lo] = lo; f[EpilogueParam.hi] = hi;
            x.call('f32_epilogue', x.ptr);
          }
        }
      }
      if (!byImage && n + 1 < p.batch) job.barrier();
      else if (byImage && first === shares - 1) job.flushIfFull();
    }
    // A BFP pass that met a NaN or ±Inf has only scratch to show for it: find and name it.
    if (job.finish() && scanned) checkFinite('input', source, r.k.f32_find_nonfinite(inPtr, inLen));
    if (out === undefined) return r.f32(outPtr, outLen).slice();
    if (!outPlace) out.set(r.f32(outPtr, outLen));
    else if (r.offsetOf(out) < 0) return r.f32(outPtr, outLen); // detached by growth
    return out;
  }

  /** Frees the layer's wasm memory; any later call throws. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const r = this.runtime;
    for (const ptr of this.owned.keys()) r.heap.release(ptr);
    this.owned.clear();
    this.indir.dispose();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Bytes of wasm memory this layer keeps between calls (weights, scales, epilogue, indirection). */
  get residentBytes(): number {
    this.live();
    let bytes = this.indir.size;
    for (const n of this.owned.values()) bytes += n;
    return bytes;
  }

  protected live(): Runtime {
    if (this.disposed) throw new TypeError(`this ${this.constructor.name} has been disposed; create a new layer`);
    return this.runtime;
  }

  /** Copies `data` into wasm memory for the layer's lifetime. */
  protected readonly keep = (data: ArrayBufferView): number => {
    const ptr = this.runtime.upload(data);
    this.owned.set(ptr, data.byteLength);
    return ptr;
  };

  protected setAffine(gamma: Float32Array | undefined, delta: Float32Array | undefined): void {
    this.gamma = gamma && gamma.slice();
    this.delta = delta && delta.slice();
    if (this.epilogue !== 0) {
      this.owned.delete(this.epilogue);
      this.runtime.heap.release(this.epilogue);
      this.epilogue = 0; // rebuilt on the next call
    }
  }

  /** scale[outChannels] = gamma, then shift[outChannels] = gamma * bias + delta. */
  private epilogueBuffer(): number {
    const c = this.geometry.outChannels;
    if (this.epilogue === 0) {
      const e = new Float32Array(2 * c);
      for (let o = 0; o < c; o++) {
        const gm = this.gamma ? this.gamma[o] : 1;
        e[o] = gm;
        e[c + o] = gm * (this.bias ? this.bias[o] : 0) + (this.delta ? this.delta[o] : 0);
      }
      this.epilogue = this.keep(e);
    }
    return this.epilogue;
  }

  private indirection(r: Runtime, p: Plan, multiple: number, rows: RowLayout | undefined): number {
    const key = `${p.height},${p.width},${p.pad}`; // rows follows from the plan
    if (key !== this.indirKey) {
      const ind = indirection(this.geometry, p, multiple, rows);
      const ptr = this.indir.ensure(ind.byteLength);
      r.i32(ptr, ind.length).set(ind);
      this.indirKey = key;
    }
    return this.indir.ptr;
  }
}
