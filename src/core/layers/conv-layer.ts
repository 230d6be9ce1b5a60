// The forward path every layer shares: copy the input into wasm memory once, per image bring it
// to NHWC, run the layer's execution path (path.ts) over the indirection buffer, apply the
// epilogue into the output in the caller's layout, and copy the output out once.
import { type Geometry, type InputShape, type Plan, plan, resolve, indirection } from '../geometry.js';
import { Scratch } from '../heap.js';
import { type Runtime, rt } from '../runtime.js';
import { EpilogueParam } from '../abi.js';
import { checkFinite, describe } from '../validate.js';
import type { ConvPath } from './path.js';

export abstract class ConvLayer {
  readonly geometry: Readonly<Geometry>;
  protected readonly bias?: Float32Array;
  protected gamma?: Float32Array;
  protected delta?: Float32Array;
  /** Set by the subclass's constructor, from its kernel-table record. */
  protected abstract readonly path: ConvPath;
  private disposed = false;
  private readonly owned = new Map<number, number>(); // pointer -> bytes of each buffer the layer keeps
  private readonly indir: Scratch;
  private indirKey = '';
  private epilogue = 0; // see epilogueBuffer()

  protected constructor(g: Geometry, bias: Float32Array | undefined) {
    this.geometry = g;
    this.bias = bias && bias.slice();
    this.indir = new Scratch(rt().heap);
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
   * The input is not modified.
   */
  forward(input: Float32Array, shape: InputShape, out?: Float32Array): Float32Array {
    const r = this.live();
    const g = this.geometry;
    const path = this.path;
    const p = plan(g, input, shape);
    const hw = p.height * p.width;
    const npix = p.outHeight * p.outWidth;
    const outLen = p.batch * g.outChannels * npix;
    if (out !== undefined) {
      const dims = `${p.outputLayout} [${p.batch}]${p.outputLayout === 'NCHW' ? `[${g.outChannels}][${p.outHeight}][${p.outWidth}]` : `[${p.outHeight}][${p.outWidth}][${g.outChannels}]`}`;
      if (!(out instanceof Float32Array)) throw new TypeError(`out must be a Float32Array of length ${outLen} (${dims}), got ${describe(out)}`);
      if (out.length !== outLen) throw new RangeError(`out must have length ${outLen} (${dims}), got ${out.length}`);
    }
    const rows = Math.ceil(npix / path.pixelMultiple) * path.pixelMultiple;
    const s = r.scratch;

    // Allocate first: growing memory detaches views, so data moves only after this point.
    const inPtr = s.input.ensure(input.byteLength);
    const outPtr = s.output.ensure(outLen * 4);
    const direct = p.layout === 'NHWC' && path.imageStride === g.inChannels;
    const imagePtr = direct ? 0 : s.image.ensure(hw * path.imageStride * 4);
    const indirPtr = this.indirection(r, p, path.pixelMultiple);
    const zero = r.zeros(path.zeroBytes);
    const acc = path.allocate(r, hw, rows);
    const epi = this.epilogueBuffer();

    r.f32(inPtr, input.length).set(input);
    const scanned = path.scansInput;
    if (!scanned) checkFinite('input', input, r.k.f32_find_nonfinite(inPtr, input.length));
    const imageBytes = hw * g.inChannels * 4;
    const nchw = p.outputLayout === 'NCHW';
    const [lo, hi] = g.activation === 'relu' ? [0, Infinity] : g.activation === 'relu6' ? [0, 6] : [-Infinity, Infinity];
    const { stride, groupStride, groupChannels, calls } = path.acc;
    for (let n = 0; n < p.batch; n++) {
      const src = inPtr + n * imageBytes;
      let image = src;
      if (p.layout === 'NCHW') {
        r.k.f32_transpose(src, g.inChannels, hw, imagePtr, path.imageStride);
        image = imagePtr;
      } else if (!direct) {
        r.k.f32_repack(src, hw, g.inChannels, g.inChannels, imagePtr, path.imageStride);
        image = imagePtr;
      }
      // A BFP pass that met a NaN or ±Inf has only scratch to show for it: find and name it.
      if (path.run(r, image, hw, indirPtr, rows, zero) && scanned) {
        checkFinite('input', input, r.k.f32_find_nonfinite(inPtr, input.length));
      }
      const dst = outPtr + n * g.outChannels * npix * 4;
      for (let c = 0; c < calls; c++) {
        const ch = c * groupChannels;
        const e = r.params(EpilogueParam.count);
        e[EpilogueParam.src] = acc + c * groupStride * 4; e[EpilogueParam.srcStride] = stride;
        e[EpilogueParam.pixels] = npix; e[EpilogueParam.channels] = groupChannels;
        e[EpilogueParam.dst] = dst + (nchw ? ch * npix : ch) * 4;
        e[EpilogueParam.dstPixStride] = nchw ? 1 : g.outChannels; e[EpilogueParam.dstChanStride] = nchw ? npix : 1;
        e[EpilogueParam.scale] = epi + ch * 4; e[EpilogueParam.shift] = epi + (g.outChannels + ch) * 4;
        r.paramsF32[EpilogueParam.lo] = lo; r.paramsF32[EpilogueParam.hi] = hi;
        r.k.f32_epilogue(r.paramsPtr);
      }
    }
    if (out === undefined) return r.f32(outPtr, outLen).slice();
    out.set(r.f32(outPtr, outLen));
    return out;
  }

  /** Frees the layer's wasm memory; any later call throws. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const r = rt();
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
    return rt();
  }

  /** Copies `data` into wasm memory for the layer's lifetime. */
  protected readonly keep = (data: ArrayBufferView): number => {
    const ptr = rt().upload(data);
    this.owned.set(ptr, data.byteLength);
    return ptr;
  };

  protected setAffine(gamma: Float32Array | undefined, delta: Float32Array | undefined): void {
    this.gamma = gamma && gamma.slice();
    this.delta = delta && delta.slice();
    if (this.epilogue !== 0) {
      this.owned.delete(this.epilogue);
      rt().heap.release(this.epilogue);
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

  private indirection(r: Runtime, p: Plan, multiple: number): number {
    const key = `${p.height},${p.width},${p.pad}`;
    if (key !== this.indirKey) {
      const ind = indirection(this.geometry, p, multiple);
      const ptr = this.indir.ensure(ind.byteLength);
      r.i32(ptr, ind.length).set(ind);
      this.indirKey = key;
    }
    return this.indir.ptr;
  }
}
