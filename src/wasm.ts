// Loading the wasm module and owning its memory: the one runtime every layer shares. The module
// imports nothing and its exports are plain functions, so it is instantiated with the WebAssembly
// API alone: no glue dependency, and dist/ runs unbundled in a page (its imports are all relative).
import { Heap, Scratch } from './memory.js';
import { describe } from './validate.js';

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
    paddedLen: number, scale: number): number;
  bfp_quantize_nhwc_i8(src: number, pixels: number, srcStride: number, groups: number, groupChannels: number,
    blockLen: number, nBlocks: number, mantissaBits: number, mant: number, mantStride: number,
    paddedLen: number, scale: number, sumScale: number): number;
  bfp_dequant_nhwc(src: number, pixels: number, srcStride: number, groups: number, groupChannels: number,
    blockLen: number, nBlocks: number, mantissaBits: number, dst: number, dstStride: number): number;
  dsconv_weights_f32(q: number, xi: number, units: number, channels: number, blockLen: number, nBlocks: number, dst: number): void;
  bfp_dequant_c1(src: number, pixels: number, srcStride: number, channels: number, mantissaBits: number,
    dst: number, dstStride: number): number;
  dsconv_4x8c2_dot16_q8: DsconvKernel;
  dsconv_4x8c2_dot16_q4: DsconvKernel;
  conv_4x8_f32(indir: number, npix: number, taps: number, inp: number, inStride: number, zero: number,
    channels: number, w: number, nTiles: number, out: number, outStride: number): void;
  dwconv_1x16_f32(indir: number, npix: number, taps: number, inp: number, inStride: number, zero: number,
    channels: number, w: number, out: number, outStride: number): void;
  dsconv_dw_weights(q: number, xi: number, xiTapStride: number, taps: number, channels: number, dst: number): void;
  /** Relaxed build only. */
  relaxed_dot_probe?(a: number, b: number, c: number, out: number): void;
  dsconv_4x8c4_rdot_q7?: DsconvKernel;
  dsconv_4x8c4_rdot_q4?: DsconvKernel;
}

export type DsconvKernel = (indir: number, npix: number, taps: number, mant: number, mantStride: number,
  scale: number, scaleStride: number, zeroMant: number, zeroScale: number, nBlocks: number,
  paddedLen: number, w: number, xi: number, nTiles: number, out: number, outStride: number, wide: number) => void;

/** Scratch buffers shared by all layers: one call runs at a time, so they are reused by all. */
export interface ScratchSet {
  input: Scratch;   // the caller's input, copied in once
  output: Scratch;  // the finished output, copied out once
  image: Scratch;   // one image in NHWC (transposed or channel-padded)
  mant: Scratch;    // BFP mantissas (or dequantized values for depthwise)
  scale: Scratch;   // BFP block scales
  acc: Scratch;     // kernel output before the epilogue
  weights: Scratch; // per-call dequantized weights (depthwise, and layers with blocks of <= 4 channels)
  zero: Scratch;    // all zeros: what padded taps read
}

export class Runtime {
  readonly heap: Heap;
  readonly scratch: ScratchSet;
  private zeroBytes = 0;

  constructor(readonly k: Kernels, readonly build: Build) {
    this.heap = new Heap(k.memory, k.heap_base());
    const s = () => new Scratch(this.heap);
    this.scratch = { input: s(), output: s(), image: s(), mant: s(), scale: s(), acc: s(), weights: s(), zero: s() };
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

/** The two binaries: portable fixed-width SIMD, and the same kernels plus relaxed-SIMD ones. */
export type Build = 'simd' | 'relaxed';
type Source<T> = T | Partial<Record<Build, T>>;

export interface InitOptions {
  /**
   * Which binary to use. 'auto' (default) takes the relaxed build only where the engine
   * validates it and its dot product passes a run-time probe; 'simd' or 'relaxed' forces one
   * ('relaxed' rejects where it would not be exact). In Node the DSCONV_BUILD environment
   * variable sets the default.
   */
  build?: 'auto' | Build;
  /** Where to fetch the .wasm from: one URL (that exact module) or one per build. Default: next to this module. */
  wasmUrl?: Source<string | URL>;
  /** The .wasm bytes themselves, one module or one per build; takes precedence over wasmUrl. */
  wasmBinary?: Source<ArrayBuffer | Uint8Array>;
}

export interface Info {
  /** Which binary is in use. */
  build: Build;
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
// The same with one i32x4.relaxed_dot_i8x16_i7x16_add_s: validates only where relaxed SIMD exists.
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0, 253, 15, 65, 0, 253,
  15, 65, 0, 253, 15, 253, 147, 2, 11,
]);

/**
 * Where each binary is by default. Written out as literal `new URL('…', import.meta.url)` calls so
 * that bundlers that know the pattern (webpack 5, Vite, Rollup, Parcel) copy the .wasm as an asset
 * and rewrite the URL; a computed path would be invisible to them.
 */
function defaultUrl(build: Build): URL {
  return build === 'relaxed'
    ? new URL('../build/dsconv-relaxed.wasm', import.meta.url)
    : new URL('../build/dsconv.wasm', import.meta.url);
}

/** Loads and instantiates the wasm module. Safe to call more than once. */
export function init(options: InitOptions = {}): Promise<void> {
  try {
    checkOptions(options);
  } catch (e) {
    return Promise.reject(e);
  }
  if (runtime) return Promise.resolve();
  loading ??= load(options).then((rt) => (runtime = rt)).finally(() => (loading = undefined));
  return loading.then(() => undefined);
}

function requestedBuild(options: InitOptions): 'auto' | Build {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.DSCONV_BUILD;
  const [name, value] = options.build !== undefined ? ['options.build', options.build] : ['DSCONV_BUILD', env || 'auto'];
  if (value !== 'auto' && value !== 'simd' && value !== 'relaxed') {
    throw new RangeError(`${name} must be 'auto', 'simd' or 'relaxed', got ${JSON.stringify(value)}`);
  }
  return value;
}

async function load(options: InitOptions): Promise<Runtime> {
  if (typeof WebAssembly !== 'object' || !WebAssembly.validate(SIMD_PROBE)) {
    throw new Error('dsconv needs WebAssembly fixed-width SIMD, which this engine does not support: '
      + 'it runs in Chrome 91, Firefox 89, Safari 16.4, Node 20 or newer');
  }
  const want = requestedBuild(options);
  const single = isSingle(options.wasmBinary) ? options.wasmBinary : options.wasmBinary === undefined && isSingle(options.wasmUrl) ? options.wasmUrl : undefined;
  if (single !== undefined) {
    // One module given: use exactly it, after checking it is what was asked for and exact.
    const k = await instantiateKernels(isBytes(single) ? single : await readWasm(single, 'options.wasmUrl'));
    const build: Build = typeof k.relaxed_dot_probe === 'function' ? 'relaxed' : 'simd';
    if (want !== 'auto' && want !== build) throw new Error(`dsconv: the build asked for is '${want}' but the module given is the '${build}' build`);
    const fault = build === 'relaxed' ? relaxedDotFault(k) : undefined;
    if (fault) throw new Error(`dsconv: the module given is the relaxed build, but this engine's relaxed dot product is not exact (${fault})`);
    return new Runtime(k, build);
  }
  if (want !== 'simd') {
    if (WebAssembly.validate(RELAXED_PROBE)) {
      const k = await instantiateKernels(await source(options, 'relaxed'));
      const fault = relaxedDotFault(k);
      if (!fault) return new Runtime(k, 'relaxed');
      if (want === 'relaxed') throw new Error(`dsconv: the relaxed build was asked for, but this engine's relaxed dot product is not exact (${fault})`);
    } else if (want === 'relaxed') {
      throw new Error('dsconv: the relaxed build was asked for, but this engine does not support relaxed SIMD');
    }
  }
  return new Runtime(await instantiateKernels(await source(options, 'simd')), 'simd');
}

function isBytes(s: unknown): s is ArrayBuffer | Uint8Array {
  return s instanceof ArrayBuffer || ArrayBuffer.isView(s);
}

function checkOptions(options: InitOptions): void {
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
  checkSource('options.wasmUrl', options.wasmUrl, (v) => typeof v === 'string' || v instanceof URL, 'a string or a URL');
  checkSource('options.wasmBinary', options.wasmBinary, isBytes, 'an ArrayBuffer or a Uint8Array');
}

/** wasmUrl / wasmBinary: undefined, one value, or an object with a value per build. */
function checkSource(name: string, v: unknown, ok: (v: unknown) => boolean, what: string): void {
  if (v === undefined || ok(v)) return;
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v) || Array.isArray(v)) {
    throw new TypeError(`${name} must be ${what}, or { simd, relaxed } of those, got ${describe(v)}`);
  }
  for (const key of Object.keys(v)) {
    if (key !== 'simd' && key !== 'relaxed') throw new RangeError(`${name} has an unknown key ${JSON.stringify(key)}; expected 'simd' or 'relaxed'`);
    const x = (v as Record<string, unknown>)[key];
    if (x !== undefined && !ok(x)) throw new TypeError(`${name}.${key} must be ${what}, got ${describe(x)}`);
  }
}

function isSingle<T>(s: Source<T> | undefined): s is T {
  return typeof s === 'string' || s instanceof URL || isBytes(s);
}

type Bytes = ArrayBuffer | Uint8Array;

async function source(options: InitOptions, build: Build): Promise<Bytes | Response> {
  const bin = options.wasmBinary as Partial<Record<Build, Bytes>> | undefined;
  const given = bin?.[build];
  if (given) return given;
  const url = options.wasmUrl as Partial<Record<Build, string | URL>> | undefined;
  const own = url?.[build];
  return own === undefined ? readWasm(defaultUrl(build), `the ${build} build`) : readWasm(own, `options.wasmUrl.${build}`);
}

/**
 * A fetched module is compiled while it downloads (instantiateStreaming) when the server labels it
 * exactly application/wasm, as that function demands (engines differ on letter case and
 * parameters, so only the plain form is trusted); any other type, common on misconfigured
 * servers, is read whole and compiled from the bytes instead of failing.
 */
async function instantiateKernels(src: Bytes | Response): Promise<Kernels> {
  let made: WebAssembly.WebAssemblyInstantiatedSource;
  if (isBytes(src)) made = await WebAssembly.instantiate(src as BufferSource, {});
  else if (typeof WebAssembly.instantiateStreaming === 'function'
    && /^[ \t]*application\/wasm[ \t]*$/.test(src.headers.get('content-type') ?? '')) {
    made = await WebAssembly.instantiateStreaming(src, {});
  } else made = await WebAssembly.instantiate(await src.arrayBuffer(), {});
  // A plain copy: instance.exports is frozen, and tools such as the bench's phase timer wrap kernels.
  return { ...made.instance.exports } as unknown as Kernels;
}

/**
 * Runs the relaxed dot product on vectors whose exact lanes are known: int8 extremes against
 * 7-bit values, four-product sums past the int16 range, accumulators near the int32 ends.
 * Returns undefined when every lane is exact, else what went wrong. Uses the bytes at
 * heap_base, before any layer exists.
 */
function relaxedDotFault(k: Kernels): string | undefined {
  const a = new Int8Array([-128, -128, -128, -128, 127, 127, 127, 127, -128, 127, -1, 5, -7, 100, -100, 0]);
  const b = new Uint8Array([127, 127, 127, 127, 127, 127, 127, 127, 127, 0, 64, 126, 1, 77, 3, 127]);
  const c = new Int32Array([-2147483648 + 70000, 2147483647 - 70000, 123456, -5]);
  const base = (k.heap_base() + 15) & ~15;
  const mem = () => new Uint8Array(k.memory.buffer);
  mem().set(new Uint8Array(a.buffer), base);
  mem().set(b, base + 16);
  mem().set(new Uint8Array(c.buffer), base + 32);
  k.relaxed_dot_probe!(base, base + 16, base + 32, base + 48);
  const got = new Int32Array(k.memory.buffer, base + 48, 4);
  for (let lane = 0; lane < 4; lane++) {
    let want = c[lane];
    for (let j = 0; j < 4; j++) want += a[4 * lane + j] * b[4 * lane + j];
    if (got[lane] !== want) return `lane ${lane}: ${got[lane]}, expected ${want}`;
  }
  return undefined;
}

interface Host {
  process?: { versions?: { node?: string } };
  document?: { baseURI?: string };
  location?: { href?: string };
}

// A scheme of two or more letters: "https:", "file:", "blob:" but not a Windows drive ("C:").
const ABSOLUTE_URL = /^[a-z][a-z0-9+.-]+:/i;

/**
 * Reads a module from a URL or path the way the platform would: in Node, `file:` URLs and strings
 * that are not absolute URLs are files (relative to the working directory); in a browser or worker,
 * relative strings are resolved against the page, as fetch() does. `what` names it in errors.
 */
async function readWasm(url: string | URL, what: string): Promise<Bytes | Response> {
  const host = globalThis as Host;
  const inNode = typeof host.process?.versions?.node === 'string';
  const text = String(url);
  let u: URL | undefined;
  try {
    if (url instanceof URL || ABSOLUTE_URL.test(text)) u = new URL(text);
    else if (!inNode) u = new URL(text, host.document?.baseURI ?? host.location?.href);
  } catch (e) {
    throw new TypeError(`${what} is not a valid URL: ${JSON.stringify(text)}`, { cause: e });
  }
  if (inNode && (u === undefined || u.protocol === 'file:')) {
    // The specifier is a variable so that bundlers targeting browsers leave it alone (esbuild
    // fails on a literal 'node:fs/promises' there) and the comments keep webpack and Vite from
    // warning about it; this branch only runs in Node.
    const fs = 'node:fs/promises';
    const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ fs) as typeof import('node:fs/promises');
    try {
      return await readFile(u ?? text);
    } catch (e) {
      throw new Error(`dsconv could not read ${what} from ${u ? u.href : text}: ${(e as Error).message}`, { cause: e });
    }
  }
  let res: Response;
  try {
    res = await fetch(u!);
  } catch (e) {
    throw new Error(`dsconv could not fetch ${what} from ${u!.href}: ${(e as Error).message}`, { cause: e });
  }
  if (!res.ok) throw new Error(`dsconv could not fetch ${what} from ${u!.href}: HTTP ${res.status} ${res.statusText}`.trimEnd());
  return res;
}

/** The loaded runtime; throws if init() has not completed. */
export function rt(): Runtime {
  if (!runtime) throw new Error('dsconv is not initialised: await init() first');
  return runtime;
}

/** Which build is in use and how much wasm memory it holds. */
export function getInfo(): Info {
  const r = rt();
  return { build: r.build, memoryBytes: r.memoryBytes, usedBytes: r.heap.usedBytes };
}
