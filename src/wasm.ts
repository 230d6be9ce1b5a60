// Loading the wasm module and owning its memory: the one runtime every layer shares.
import { instantiate } from '@assemblyscript/loader';
import { Heap, Scratch } from './memory.js';

/** The kernels exported by assembly/index.ts; every pointer is a byte offset into memory. */
export interface Kernels {
  memory: WebAssembly.Memory;
  heap_base(): number;
  find_nonfinite_f32(ptr: number, n: number): number;
  transpose_f32(src: number, rows: number, cols: number, dst: number, dstStride: number): void;
  repack_f32(src: number, pixels: number, channels: number, srcStride: number, dst: number, dstStride: number): void;
  epilogue_f32(src: number, srcStride: number, pixels: number, channels: number, dst: number,
    dstPixStride: number, dstChanStride: number, scale: number, shift: number, lo: number, hi: number): void;
  bfp_quantize_nhwc(src: number, pixels: number, srcStride: number, groups: number, groupChannels: number,
    blockLen: number, nBlocks: number, mantissaBits: number, mant: number, mantStride: number,
    paddedLen: number, scale: number): void;
  bfp_dequant_c1(src: number, pixels: number, srcStride: number, channels: number, mantissaBits: number,
    dst: number, dstStride: number): void;
  dsconv_4x8c2_dot16_q8: DsconvKernel;
  dsconv_4x8c2_dot16_q4: DsconvKernel;
  conv_4x8_f32(indir: number, npix: number, taps: number, inp: number, inStride: number, zero: number,
    channels: number, w: number, nTiles: number, out: number, outStride: number): void;
  dwconv_1x4_f32(indir: number, npix: number, taps: number, inp: number, inStride: number, zero: number,
    channels: number, w: number, out: number, outStride: number): void;
  dsconv_dw_1x4_q8(indir: number, npix: number, taps: number, inp: number, inStride: number, zero: number,
    channels: number, q: number, xi: number, xiTapStride: number, out: number, outStride: number): void;
}

export type DsconvKernel = (indir: number, npix: number, taps: number, mant: number, mantStride: number,
  scale: number, scaleStride: number, zeroMant: number, zeroScale: number, nBlocks: number,
  paddedLen: number, w: number, xi: number, nTiles: number, out: number, outStride: number) => void;

/** Scratch buffers shared by all layers: one call runs at a time, so they are reused by all. */
export interface ScratchSet {
  input: Scratch;   // the caller's input, copied in once
  output: Scratch;  // the finished output, copied out once
  image: Scratch;   // one image in NHWC (transposed or channel-padded)
  mant: Scratch;    // BFP mantissas (or dequantized values for depthwise)
  scale: Scratch;   // BFP block scales
  acc: Scratch;     // kernel output before the epilogue
  zero: Scratch;    // all zeros: what padded taps read
}

export class Runtime {
  readonly heap: Heap;
  readonly scratch: ScratchSet;
  private zeroBytes = 0;

  constructor(readonly k: Kernels) {
    this.heap = new Heap(k.memory, k.heap_base());
    const s = () => new Scratch(this.heap);
    this.scratch = { input: s(), output: s(), image: s(), mant: s(), scale: s(), acc: s(), zero: s() };
  }

  get memoryBytes(): number {
    return this.k.memory.buffer.byteLength;
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.k.memory.buffer, ptr, length);
  }

  i32(ptr: number, length: number): Int32Array {
    return new Int32Array(this.k.memory.buffer, ptr, length);
  }

  u8(ptr: number, length: number): Uint8Array {
    return new Uint8Array(this.k.memory.buffer, ptr, length);
  }

  /** A zero-filled region of at least `bytes` bytes, stable until a larger one is asked for. */
  zeros(bytes: number): number {
    const ptr = this.scratch.zero.ensure(bytes);
    if (bytes > this.zeroBytes) {
      this.u8(ptr, this.scratch.zero.size).fill(0);
      this.zeroBytes = this.scratch.zero.size;
    }
    return ptr;
  }

  /** Allocates and fills a persistent buffer with a copy of `data`. */
  upload(data: ArrayBufferView): number {
    const ptr = this.heap.alloc(data.byteLength);
    this.u8(ptr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return ptr;
  }
}

export interface InitOptions {
  /** Where to fetch the .wasm from (browsers, bundlers); default: next to this module. */
  wasmUrl?: string | URL;
  /** The .wasm bytes themselves; takes precedence over wasmUrl. */
  wasmBinary?: ArrayBuffer | Uint8Array;
}

export interface Info {
  /** Which binary is in use. */
  build: 'simd';
  /** Current size of the wasm linear memory in bytes. */
  memoryBytes: number;
  /** Bytes allocated by layers and scratch buffers. */
  usedBytes: number;
}

let runtime: Runtime | undefined;
let loading: Promise<Runtime> | undefined;

// The smallest module that uses a v128 value: validates only where fixed-width SIMD exists.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

/** Loads and instantiates the wasm module. Safe to call more than once. */
export function init(options: InitOptions = {}): Promise<void> {
  if (runtime) return Promise.resolve();
  loading ??= load(options).then((rt) => (runtime = rt)).finally(() => (loading = undefined));
  return loading.then(() => undefined);
}

async function load(options: InitOptions): Promise<Runtime> {
  if (!WebAssembly.validate(SIMD_PROBE)) {
    throw new Error('dsconv needs WebAssembly fixed-width SIMD (Chrome 91, Firefox 89, Safari 16.4, Node 16.4 or newer)');
  }
  const bytes = options.wasmBinary ?? await readWasm(options.wasmUrl ?? new URL('../build/dsconv.wasm', import.meta.url));
  const { exports } = await instantiate(bytes as BufferSource, {});
  return new Runtime(exports as unknown as Kernels);
}

async function readWasm(url: string | URL): Promise<ArrayBuffer | Uint8Array> {
  const u = new URL(url, import.meta.url);
  if (u.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return readFile(u);
  }
  const res = await fetch(u);
  if (!res.ok) throw new Error(`dsconv could not fetch ${u.href}: HTTP ${res.status}`);
  return res.arrayBuffer();
}

/** The loaded runtime; throws if init() has not completed. */
export function rt(): Runtime {
  if (!runtime) throw new Error('dsconv is not initialised: await init() first');
  return runtime;
}

/** Which build is in use and how much wasm memory it holds. */
export function getInfo(): Info {
  const r = rt();
  return { build: 'simd', memoryBytes: r.memoryBytes, usedBytes: r.heap.usedBytes };
}
