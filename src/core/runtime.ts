// The runtime every layer shares: one instantiated module, its memory and allocator, the scratch
// buffers of the forward path, and the parameter records the kernels read. Loading lives in
// init.ts; this file knows nothing of where the module came from.
import { type Allocator, Heap, Scratch } from './heap.js';
import type { Kernels, ExportName } from './exports.js';
import { EXPORTS } from './exports.js';
import { BfpParam, ConvParam, EpilogueParam, GemmParam, QuadformParam, UpdateParam, CholeskyParam } from './abi.js';
import type { Pool } from './threads/pool.js';
import { Job, type JobHost, recordBytes } from './threads/job.js';
import { viewOf } from './validate.js';

/** The two binaries: portable fixed-width SIMD, and the same kernels plus relaxed-SIMD ones. */
export type Build = 'simd' | 'relaxed';

/** Scratch buffers shared by all layers: one call runs at a time, so they are reused by all. */
export interface ScratchSet {
  input: Scratch;   // the caller's input, copied in once
  output: Scratch;  // the finished output, copied out once
  image: Scratch;   // one image in NHWC (transposed or channel-padded)
  rowImage: Scratch; // one image with zero columns, for the row runs (geometry.ts RowLayout)
  mant: Scratch;    // BFP mantissas (or dequantized values for the float paths)
  scale: Scratch;   // BFP block records
  acc: Scratch;     // kernel output before the epilogue
  weights: Scratch; // per-call dequantized or widened weights
  zero: Scratch;    // all zeros: what padded taps read
}

/**
 * Multiply-accumulates below which a call stays on one thread: waking the workers and the
 * barriers between phases cost more than the split saves. Measured on 2 threads
 * (docs/BENCHMARKS.md#threads): a split 1x1 call broke even between 2^17 and 2^18 MACs and
 * gained 1.1x at 2^18.
 */
export const SPLIT_MIN_MACS = 1 << 18;

/**
 * A call whose input and output would be copied into a threaded runtime's memory and back (a
 * tfjs-wasm tensor, which a guest runtime reads in place on one thread) splits only from this
 * size, and where it has at least COPIED_SPLIT_MACS_PER_BYTE for each byte copied. Between a
 * model's calls the workers fall asleep, and waking them (0.1-0.2 ms a call here) and the copies
 * cost most of MobileNetV2's calls more than the split saved: through the plug-in on 2 threads
 * (docs/BENCHMARKS.md#threads-through-the-plug-in) its depthwise convs all lost, its 1x1 convs
 * under 2^24 MACs broke even at best, its biggest gained; the RDN's, 21M to 600M MACs at 5 to
 * 100 MACs per byte, mostly gained, and the whole model ran 1.2-1.5x as fast.
 */
export const COPIED_SPLIT_MIN_MACS = 1 << 24;
export const COPIED_SPLIT_MACS_PER_BYTE = 4;

export class Runtime implements JobHost {
  /** The exports layers call; swapped for a timed copy while profile() runs. */
  k: Kernels;
  readonly heap: Allocator;
  readonly scratch: ScratchSet;
  private zeroBytes = 0;
  /** Where params() writes: room for the longest record. */
  readonly paramsPtr: number;
  private readonly paramSlots = Math.max(ConvParam.count, BfpParam.count, EpilogueParam.count, GemmParam.count, QuadformParam.count, UpdateParam.count, CholeskyParam.count);
  private paramsBuffer?: ArrayBuffer;
  private paramsI32?: Int32Array;
  private paramsF32View?: Float32Array;
  /** The workers, when this runtime runs on more than one thread. */
  pool?: Pool;
  /** Threads init() asked for ('auto' resolved), and why fewer run, if they do. */
  threadsAsked = 1;
  threadsReason?: string;
  /**
   * A threaded runtime's build compiled over a plain memory, which guests instantiate (guest.ts),
   * or why there is none. Unset on a single-thread runtime, whose own module serves.
   */
  plainTwin?: WebAssembly.Module;
  twinReason?: string;
  /** Multiply-accumulates from which a call is split (SPLIT_MIN_MACS; the tests lower it). */
  splitMinMacs = SPLIT_MIN_MACS;
  /** While profile() runs: calls stay unsplit, since the workers would call the untimed exports. */
  profiling = false;
  private records = 0; // the pool's per-thread record regions

  /**
   * `module` is what `kernels` were instantiated from (guest.ts instantiates it again); `heap`
   * defaults to one over the module's own memory, from its heap_base.
   */
  constructor(kernels: Kernels, readonly build: Build, readonly module: WebAssembly.Module,
    heap: Allocator = new Heap(kernels.memory, kernels.heap_base())) {
    this.k = kernels;
    this.heap = heap;
    const s = () => new Scratch(this.heap);
    this.scratch = { input: s(), output: s(), image: s(), rowImage: s(), mant: s(), scale: s(), acc: s(), weights: s(), zero: s() };
    this.paramsPtr = this.heap.alloc(this.paramSlots * 4);
  }

  /** Threads calls may run on now (1 without a pool, or once it has failed or shut down). */
  get threads(): number {
    return this.pool && !this.pool.broken ? this.pool.size : 1;
  }

  /** Hands the runtime its workers (init() does, once they are ready). */
  attach(pool: Pool): void {
    this.pool = pool;
    this.records = this.heap.alloc(pool.size * recordBytes(this.paramSlots));
  }

  recordsAt(t: number): number {
    return this.records + t * recordBytes(this.paramSlots);
  }

  /** Shares to split a call of `macs` multiply-accumulates into (1: run it here, unsplit). */
  sharesFor(macs: number): number {
    const n = this.threads;
    if (n === 1 || this.profiling || macs < this.splitMinMacs) return 1;
    return Math.min(n, Math.max(2, Math.floor(macs / this.splitMinMacs)));
  }

  /**
   * Whether a call of `macs` multiply-accumulates is better split here, on the workers, than run
   * on one thread where its data lies, when splitting means copying `bytes` in and out.
   */
  splitPaysCopies(macs: number, bytes: number): boolean {
    return this.sharesFor(macs) > 1 && macs >= COPIED_SPLIT_MIN_MACS && macs >= COPIED_SPLIT_MACS_PER_BYTE * bytes;
  }

  /** A job of `shares` shares (threads/job.ts). */
  job(shares: number): Job {
    return new Job(this, shares, this.paramSlots);
  }

  /** Ends the workers: later calls run on this thread. */
  shutdown(): void {
    if (this.pool && !this.pool.broken) {
      this.pool.shutdown();
      this.threadsReason = 'shutdown() was called';
    }
  }

  get memoryBytes(): number {
    return this.k.memory.buffer.byteLength;
  }

  /**
   * Where `view` starts in this runtime's memory, by the engine's own buffer and offset (its
   * getters can lie), so that kernels can read and write it in place; -1 if it lies elsewhere.
   */
  offsetOf(view: ArrayBufferView): number {
    const v = viewOf(view);
    return v.buffer === this.k.memory.buffer ? v.byteOffset : -1;
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
   * Starts a parameter record (abi.ts) of `slots` 32-bit slots, zeroed, and returns them: the
   * caller writes each field by name, p[ConvParam.npix] = n (floats through paramsF32), then
   * passes paramsPtr to the kernel. One region serves every record: kernels read theirs on entry.
   * Fields written by constant name cost a few ns; a generic writer over an object cost 10x that,
   * which small layers felt.
   */
  params(slots: number): Int32Array {
    if (this.paramsBuffer !== this.k.memory.buffer) {
      // Views made again only when memory has grown: a call writes several records.
      this.paramsBuffer = this.k.memory.buffer;
      this.paramsI32 = new Int32Array(this.paramsBuffer, this.paramsPtr, this.paramSlots);
      this.paramsF32View = new Float32Array(this.paramsBuffer, this.paramsPtr, this.paramSlots);
    }
    return this.paramsI32!.fill(0, 0, slots);
  }

  /** The record region as f32 slots, for the fields abi.ts marks f32 (after params()). */
  get paramsF32(): Float32Array {
    return this.paramsF32View!;
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

  /**
   * Gives every shared scratch buffer back to the heap; the next call allocates what it needs
   * again. Buffers layers keep (weights, indirection) are untouched.
   */
  trim(): void {
    for (const s of Object.values(this.scratch)) s.dispose();
    this.zeroBytes = 0; // the zero region is gone: the next zeros() refills a new one
  }

  /** Gives back the scratch buffers and the record region: for a guest runtime at its end. */
  close(): void {
    this.trim();
    this.heap.release(this.paramsPtr);
    guests.delete(this);
  }

  /** Allocates and fills a persistent buffer with a copy of `data`. */
  upload(data: ArrayBufferView): number {
    const ptr = this.heap.alloc(data.byteLength);
    this.u8(ptr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return ptr;
  }
}

let current: Runtime | undefined;
/** Guest runtimes not yet closed (guest.ts): profile() times their calls too. */
const guests = new Set<Runtime>();

export function addGuest(r: Runtime): void {
  guests.add(r);
}

/** Makes `r` the runtime every layer uses (init() does, once). */
export function install(r: Runtime): void {
  current = r;
}

export function isInstalled(): boolean {
  return current !== undefined;
}

/**
 * Runs `fn` with `r` as the runtime: the layers it makes live in r's memory (a guest runtime's,
 * guest.ts) for their whole life.
 */
export function withRuntime<T>(r: Runtime, fn: () => T): T {
  const was = current;
  current = r;
  try {
    return fn();
  } finally {
    current = was;
  }
}

/** The loaded runtime, or the one withRuntime() gives; throws if init() has not completed. */
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
  /** Threads a call may run on: the calling thread and the workers. */
  threads: number;
  /** Why there are fewer threads than init() was asked for, when there are. */
  threadsReason?: string;
}

/** Which build is in use, on how many threads, and how much wasm memory it holds. */
export function getInfo(): Info {
  const r = rt();
  const info: Info = { build: r.build, memoryBytes: r.memoryBytes, usedBytes: r.heap.usedBytes, threads: r.threads };
  const why = r.pool?.broken && r.pool.broken !== 'shut down' ? r.pool.broken : r.threadsReason;
  if (why !== undefined) info.threadsReason = why;
  return info;
}

/** Ends the worker threads, if any; later calls run on the calling thread. */
export function shutdown(): void {
  current?.shutdown();
}

/**
 * Releases the scratch buffers all layers share back to the allocator. They keep the size of the
 * largest call so far, so after one huge call they hold its size until trimmed. Wasm memory cannot
 * shrink: the bytes go back to the allocator for later layers and calls, and usedBytes drops.
 */
export function trimMemory(): void {
  rt().trim();
}

/** Time spent in each wasm export while `fn` ran, ms, and the calls made. */
export interface Profile {
  ms: Partial<Record<ExportName, number>>;
  calls: Partial<Record<ExportName, number>>;
}

/**
 * Runs `fn` (synchronously) with every kernel call timed, and returns where the time went:
 * milliseconds and calls per wasm export (EXPORTS gives each one's role). Timing adds a little
 * to each call, so compare shares, not totals, with untimed runs. Calls run on one thread
 * while profiled. The plug-in's layers on tfjs-wasm's heap (guest runtimes) are timed as well.
 */
export function profile(fn: () => void): Profile {
  const result: Profile = { ms: {}, calls: {} };
  const all = [rt(), ...guests];
  const plain = all.map((r) => r.k);
  all.forEach((r, i) => {
    const timed: Record<string, unknown> = { memory: plain[i].memory };
    for (const name of Object.keys(EXPORTS) as ExportName[]) {
      const f = plain[i][name] as ((...a: number[]) => number) | undefined;
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
    r.profiling = true;
  });
  try {
    fn();
  } finally {
    all.forEach((r, i) => { r.k = plain[i]; r.profiling = false; });
  }
  return result;
}
