// The worker pool: threads - 1 workers over one shared memory, each running the programs that a
// job writes into its block of the control block, while the calling thread runs share 0. Every
// wait of the calling thread is bounded: a worker that throws fails the call with its message; a
// worker that exits, or makes no progress for `stallMs`, fails the call and shuts the pool
// down, after which the runtime runs on one thread and says why (getInfo).
import {
  BARRIER_COUNT, DONE, PARTIES, PROGRESS, RESULT, SEQ, SHUTDOWN, STATUS, STATUS_EXITED, STATUS_THREW,
  CALLER_SPIN_US, type Fn, type Wait, blockOf, controlBytes, readMessage, runProgram, spin,
} from './control.js';
import { type WorkerHandle, canBlock, spawn } from './platform.js';

export interface PoolOptions {
  /** Threads in all, the calling thread included (>= 2). */
  threads: number;
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** The calling thread's exports, in the order of `names`. */
  fns: readonly Fn[];
  names: readonly string[];
  workerUrl: URL | string;
  /** 64 bytes for each worker's probe, by thread number (index 0 unused). */
  probeAt: readonly number[];
  /** How long a worker may go without progress before the call fails, ms. */
  stallMs?: number;
}

/** How long a worker may take to start: compiling is already done, so this is generous. */
const READY_MS = 30000;
const SLICE_MS = 5;

export class Pool {
  readonly ctl: Int32Array;
  /** Why the pool no longer runs work (shut down or failed), or undefined while it does. */
  broken?: string;
  stallMs: number;
  private seq = 0;
  private parties = 0;
  private fault?: { thread: number; kind: number };
  private readonly blocks: boolean;
  private readonly wait: Wait;

  private constructor(readonly size: number, private readonly workers: WorkerHandle[], ctl: Int32Array,
    private readonly fns: readonly Fn[], stallMs: number) {
    this.ctl = ctl;
    this.stallMs = stallMs;
    this.blocks = canBlock();
    this.wait = (c, index, value) => this.waitFor(c, index, value);
    workers.forEach((w, i) => w.onFailure((why) => {
      if (!this.broken) this.shutdown(`worker ${i + 1} ${why}`);
    }));
  }

  static async create(o: PoolOptions): Promise<Pool> {
    const ctl = new Int32Array(new SharedArrayBuffer(controlBytes(o.threads)));
    const workers: WorkerHandle[] = [];
    try {
      for (let t = 1; t < o.threads; t++) workers.push(await spawn(o.workerUrl));
      workers.forEach((w, i) => w.start({
        module: o.module, memory: o.memory, control: ctl.buffer as SharedArrayBuffer, index: i + 1, names: o.names, probeAt: o.probeAt[i + 1],
      }));
      await Promise.all(workers.map((w, i) => w.ready(READY_MS).catch((e: Error) => {
        throw new Error(`worker ${i + 1} did not start: ${e.message}`);
      })));
    } catch (e) {
      for (const w of workers) w.terminate();
      throw e;
    }
    return new Pool(o.threads, workers, ctl, o.fns, o.stallMs ?? 10000);
  }

  /**
   * Runs the programs of threads 0..parties-1 (written by a job) and returns the OR of their
   * results; throws if any thread failed. Thread 0's program runs here.
   */
  run(parties: number): number {
    if (this.broken) throw new Error(`dsconv: the thread pool is shut down (${this.broken})`);
    const ctl = this.ctl;
    this.parties = parties;
    Atomics.store(ctl, PARTIES, parties);
    Atomics.store(ctl, BARRIER_COUNT, 0);
    const seq = ++this.seq;
    for (let t = 1; t < parties; t++) {
      const b = blockOf(t);
      Atomics.store(ctl, b + SEQ, seq);
      Atomics.notify(ctl, b + SEQ, 1);
    }
    let own: { result: number; error?: unknown };
    try {
      own = runProgram(ctl, blockOf(0), this.fns, this.wait);
      for (let t = 1; t < parties; t++) {
        const at = blockOf(t) + DONE;
        for (let d = Atomics.load(ctl, at); d !== seq; d = Atomics.load(ctl, at)) this.wait(ctl, at, d);
      }
    } catch (e) {
      this.shutdown((e as Error).message);
      throw new Error(`dsconv: ${(e as Error).message}; the thread pool is shut down and calls now run on one thread`);
    }
    if (own.error !== undefined) throw own.error;
    let result = own.result;
    for (let t = 1; t < parties; t++) {
      const b = blockOf(t);
      if (ctl[b + STATUS] === STATUS_THREW) throw new Error(`dsconv: worker ${t} failed: ${readMessage(ctl, b)}`);
      result |= ctl[b + RESULT];
    }
    return result;
  }

  /** Jobs run on the pool so far. */
  get runs(): number {
    return this.seq;
  }

  /** Ends the workers; later runs throw (the runtime then stops asking for them). */
  shutdown(why = 'shut down'): void {
    if (this.broken) return;
    this.broken = why;
    Atomics.store(this.ctl, SHUTDOWN, 1);
    Atomics.notify(this.ctl, SHUTDOWN);
    for (let t = 1; t < this.size; t++) {
      Atomics.add(this.ctl, blockOf(t) + SEQ, 1);
      Atomics.notify(this.ctl, blockOf(t) + SEQ);
    }
    for (const w of this.workers) w.terminate();
  }

  /** Tests: the next job of at least thread + 1 shares makes that worker fail (control.ts FAULT_*). */
  injectFault(thread: number, kind: number): void {
    this.fault = { thread, kind };
  }

  takeFault(shares: number): { thread: number; kind: number } | undefined {
    const f = this.fault;
    if (!f || f.thread >= shares) return undefined;
    this.fault = undefined;
    return f;
  }

  /** Tests: ends one worker as a crash would. */
  terminateWorker(thread: number): void {
    this.workers[thread - 1].terminate();
  }

  /**
   * The calling thread's wait: spins, then sleeps in short slices (or spins on, where this
   * thread may not block), checking that the workers it waits for are alive and moving.
   */
  private waitFor(ctl: Int32Array, index: number, value: number): void {
    if (spin(ctl, index, value, CALLER_SPIN_US)) return;
    let progress = this.progress();
    let since = performance.now();
    while (Atomics.load(ctl, index) === value) {
      if (this.blocks) Atomics.wait(ctl, index, value, SLICE_MS);
      for (let t = 1; t < this.parties; t++) {
        if (Atomics.load(ctl, blockOf(t) + STATUS) === STATUS_EXITED) throw new Error(`worker ${t} exited during a call`);
      }
      const now = performance.now();
      const p = this.progress();
      if (p !== progress) {
        progress = p;
        since = now;
      } else if (now - since > this.stallMs) {
        throw new Error(`no worker made progress for ${this.stallMs} ms`);
      }
    }
  }

  private progress(): number {
    let n = 0;
    for (let t = 1; t < this.parties; t++) n += Atomics.load(this.ctl, blockOf(t) + PROGRESS);
    return n;
  }
}
