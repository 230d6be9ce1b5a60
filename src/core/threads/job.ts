// A job: the kernel calls of one forward(), split into shares, one per thread. The layer writes
// each call (and the parameter record it reads) into the share of the thread that will run it;
// barriers separate phases that read what other shares wrote. A job of one share calls each
// kernel as it is written, exactly as a single-threaded runtime did; a job of more writes
// programs into the control block (control.ts) and runs them on the pool at finish().
import type { ExportName, Kernels } from '../exports.js';
import { EXPORTS } from '../exports.js';
import { BARRIER, MAX_CALLS, NCALLS, blockOf, callAt } from './control.js';
import type { Pool } from './pool.js';

/** Export names in the order programs number them: workers receive the same list. */
export const EXPORT_NAMES = Object.keys(EXPORTS) as ExportName[];
const INDEX = new Map(EXPORT_NAMES.map((n, i) => [n, i]));

/** Where a share writes its records: the one region of a single-threaded runtime, or its own. */
export interface JobHost {
  readonly k: Kernels;
  /** A zeroed record in the single-threaded region (Runtime.params). */
  params(slots: number): Int32Array;
  readonly paramsPtr: number;
  readonly paramsF32: Float32Array;
  readonly pool?: Pool;
  /** Thread t's record region, `recordBytes` long. */
  recordsAt(t: number): number;
}

/** Bytes of one thread's record region: a record for each call its program can hold. */
export function recordBytes(slots: number): number {
  return MAX_CALLS * slots * 4;
}

export interface Share {
  /** This share's thread: 0 is the calling thread. */
  readonly index: number;
  /** A zeroed parameter record of `slots` slots; `ptr` is where it is. */
  record(slots: number): Int32Array;
  readonly ptr: number;
  /** The last record's slots as f32, for the fields abi.ts marks f32. */
  f32(): Float32Array;
  call(fn: ExportName, a?: number, b?: number, c?: number, d?: number, e?: number, f?: number, g?: number): void;
}

export class Job {
  private result = 0;
  private readonly list: Share[];

  constructor(private readonly host: JobHost, readonly shares: number, recordSlots: number) {
    this.list = shares === 1 ? [new DirectShare(host, (r) => (this.result |= r))]
      : Array.from({ length: shares }, (_, t) => new PooledShare(host, t, recordSlots));
  }

  share(t: number): Share {
    return this.list[t];
  }

  /** Every share waits here until all have arrived (a no-op on one thread). */
  barrier(): void {
    // Nothing written since the last barrier: nothing to wait for.
    if (this.shares === 1 || !(this.list as PooledShare[]).some((s) => s.fresh)) return;
    // A program that is half full runs now: the end of a run is a barrier as well.
    if ((this.list as PooledShare[]).some((s) => s.calls > MAX_CALLS / 2)) {
      this.run();
      return;
    }
    for (const s of this.list as PooledShare[]) s.barrier();
  }

  /** Runs what is written now if a program is half full; call it only where a barrier could stand. */
  flushIfFull(): void {
    if (this.shares > 1 && (this.list as PooledShare[]).some((s) => s.calls > MAX_CALLS / 2)) this.run();
  }

  /** Runs what has not run yet; returns the OR of the calls' results (the BFP passes' flags). */
  finish(): number {
    if (this.shares > 1 && (this.list as PooledShare[]).some((s) => s.calls > 0)) this.run();
    return this.result;
  }

  private run(): void {
    const pool = this.host.pool!;
    const fault = pool.takeFault(this.shares);
    if (fault) (this.list[fault.thread] as PooledShare).fault(fault.kind);
    this.result |= pool.run(this.shares);
    for (const s of this.list as PooledShare[]) s.reset();
  }
}

class DirectShare implements Share {
  readonly index = 0;
  constructor(private readonly host: JobHost, private readonly add: (r: number) => void) {}

  get ptr(): number {
    return this.host.paramsPtr;
  }

  record(slots: number): Int32Array {
    return this.host.params(slots);
  }

  f32(): Float32Array {
    return this.host.paramsF32;
  }

  call(fn: ExportName, a?: number, b?: number, c?: number, d?: number, e?: number, f?: number, g?: number): void {
    this.add((this.host.k[fn] as (...x: (number | undefined)[]) => number)(a, b, c, d, e, f, g) | 0);
  }
}

class PooledShare implements Share {
  calls = 0;
  /** Whether calls were written since the last barrier. */
  fresh = false;
  ptr = 0;
  private used = 0; // record bytes written
  private last?: Int32Array;
  private readonly base: number;
  private readonly ctl: Int32Array;

  constructor(private readonly host: JobHost, readonly index: number, private readonly recordSlots: number) {
    this.base = blockOf(index);
    this.ctl = host.pool!.ctl;
    this.reset();
  }

  record(slots: number): Int32Array {
    if (slots > this.recordSlots) throw new Error(`dsconv internal: a record of ${slots} slots`);
    this.ptr = this.host.recordsAt(this.index) + this.used;
    this.used += this.recordSlots * 4;
    this.last = new Int32Array(this.host.k.memory.buffer, this.ptr, slots).fill(0);
    return this.last;
  }

  f32(): Float32Array {
    return new Float32Array(this.last!.buffer, this.last!.byteOffset, this.last!.length);
  }

  call(fn: ExportName, a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0): void {
    this.push(INDEX.get(fn)!, a, b, c, d, e, f, g);
    this.fresh = true;
  }

  barrier(): void {
    this.push(BARRIER, 0, 0, 0, 0, 0, 0, 0);
    this.fresh = false;
  }

  /** An injected fault (internal.ts): the worker fails at this point of its program. */
  fault(kind: number): void {
    this.push(kind, 0, 0, 0, 0, 0, 0, 0);
  }

  reset(): void {
    this.calls = 0;
    this.fresh = false;
    this.used = 0;
    this.ctl[this.base + NCALLS] = 0;
  }

  private push(fn: number, a: number, b: number, c: number, d: number, e: number, f: number, g: number): void {
    if (this.calls === MAX_CALLS) throw new Error('dsconv internal: a thread program overflowed');
    const at = callAt(this.base, this.calls);
    const ctl = this.ctl;
    ctl[at] = fn; ctl[at + 1] = a; ctl[at + 2] = b; ctl[at + 3] = c; ctl[at + 4] = d; ctl[at + 5] = e; ctl[at + 6] = f; ctl[at + 7] = g;
    ctl[this.base + NCALLS] = ++this.calls;
  }
}
