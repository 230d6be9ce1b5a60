// The runtime every layer shares: one instantiated module, its memory and allocator, the scratch
// buffers of the forward path, and the parameter records the kernels read. Loading lives in
// init.ts; this file knows nothing of where the module came from.
import { Heap, Scratch } from './heap.js';
import type { Kernels, ExportName } from './exports.js';
import { EXPORTS } from './exports.js';

/** The two binaries: portable fixed-width SIMD, and the same kernels plus relaxed-SIMD ones. */
export type Build = 'simd' | 'relaxed';

/** Scratch buffers shared by all layers: one call runs at a time, so they are reused by all. */
export interface ScratchSet {
  input: Scratch;   // the caller's input, copied in once
  output: Scratch;  // the finished output, copied out once
  image: Scratch;   // one image in NHWC (transposed or channel-padded)
  mant: Scratch;    // BFP mantissas (or dequantized values for the float paths)
  scale: Scratch;   // BFP block records
  acc: Scratch;     // kernel output before the epilogue
  weights: Scratch; // per-call dequantized or widened weights
  zero: Scratch;    // all zeros: what padded taps read
}

/** An abi.ts enum: member names to slots, ending in `count`. */
type RecordEnum = { count: number };
type Fields<E> = Exclude<keyof E, 'count'>;

export class Runtime {
  /** The exports layers call; swapped for a timed copy while profile() runs. */
  k: Kernels;
  readonly heap: Heap;
  readonly scratch: ScratchSet;
  private zeroBytes = 0;
  private readonly params: number; // one record's slots: kernels read their record on entry
  private static readonly PARAM_SLOTS = 32;

  constructor(kernels: Kernels, readonly build: Build) {
    this.k = kernels;
    this.heap = new Heap(kernels.memory, kernels.heap_base());
    const s = () => new Scratch(this.heap);
    this.scratch = { input: s(), output: s(), image: s(), mant: s(), scale: s(), acc: s(), weights: s(), zero: s() };
    this.params = this.heap.alloc(Runtime.PARAM_SLOTS * 4);
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

  /**
   * Writes a parameter record of `layout` (an abi.ts enum): the named i32 fields, then the named
   * f32 ones; fields not named are 0. Returns its address, valid until the next record.
   */
  record<E extends RecordEnum>(layout: E, ints: Partial<Record<Fields<E>, number>>, floats: Partial<Record<Fields<E>, number>> = {}): number {
    const slots = layout.count;
    const i = this.i32(this.params, slots).fill(0);
    const f = this.f32(this.params, slots);
    const slot = layout as unknown as Record<string, number>;
    for (const name in ints) i[slot[name]] = (ints as Record<string, number>)[name];
    for (const name in floats) f[slot[name]] = (floats as Record<string, number>)[name];
    return this.params;
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

let current: Runtime | undefined;

/** Makes `r` the runtime every layer uses (init() does, once). */
export function install(r: Runtime): void {
  current = r;
}

export function isInstalled(): boolean {
  return current !== undefined;
}

/** The loaded runtime; throws if init() has not completed. */
export function rt(): Runtime {
  if (!current) throw new Error('dsconv is not initialised: await init() first');
  return current;
}

export interface Info {
  /** Which binary is in use. */
  build: Build;
  /** Current size of the wasm linear memory in bytes. */
  memoryBytes: number;
  /** Bytes allocated by layers and scratch buffers. */
  usedBytes: number;
}

/** Which build is in use and how much wasm memory it holds. */
export function getInfo(): Info {
  const r = rt();
  return { build: r.build, memoryBytes: r.memoryBytes, usedBytes: r.heap.usedBytes };
}

/** Time spent in each wasm export while `fn` ran, ms, and the calls made. */
export interface Profile {
  ms: Partial<Record<ExportName, number>>;
  calls: Partial<Record<ExportName, number>>;
}

/**
 * Runs `fn` (synchronously) with every kernel call timed, and returns where the time went:
 * milliseconds and calls per wasm export (EXPORTS gives each one's role). Timing adds a little
 * to each call, so compare shares, not totals, with untimed runs.
 */
export function profile(fn: () => void): Profile {
  const r = rt();
  const plain = r.k;
  const result: Profile = { ms: {}, calls: {} };
  const timed: Record<string, unknown> = { memory: plain.memory };
  for (const name of Object.keys(EXPORTS) as ExportName[]) {
    const f = plain[name] as ((...a: number[]) => number) | undefined;
    if (!f) continue;
    timed[name] = (...args: number[]) => {
      const t = performance.now();
      try {
        return f(...args);
      } finally {
        result.ms[name] = (result.ms[name] ?? 0) + performance.now() - t;
        result.calls[name] = (result.calls[name] ?? 0) + 1;
      }
    };
  }
  r.k = timed as unknown as Kernels;
  try {
    fn();
  } finally {
    r.k = plain;
  }
  return result;
}
