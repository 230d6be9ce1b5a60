// The control block the calling thread and the workers share, and the one interpreter of the
// programs written into it, run by both sides. The block is an Int32Array over its own
// SharedArrayBuffer, apart from wasm memory, so that growing memory never moves it.
//
// Layout: a header (the barrier), then one block per thread. A thread's block holds its program,
// a list of calls, each an export index and up to 7 i32 arguments (or BARRIER), and the slots
// through which it reports back. Thread 0 is the calling thread: its block holds only a program.

/** Header slots. */
export const BARRIER_COUNT = 0;
export const BARRIER_GEN = 1;
/** Threads taking part in the current job: the barrier waits for this many. */
export const PARTIES = 2;
/** Set to 1 when the pool shuts down: a woken worker then leaves its loop. */
export const SHUTDOWN = 3;
const HEADER = 16; // a cache line, so the barrier's slots share it with no thread's block

/** Slots of a thread's block. */
export const SEQ = 0;      // caller -> worker: the number of the program to run
export const DONE = 1;     // worker -> caller: the number of the last program finished
export const STATUS = 2;   // worker -> caller: STATUS_OK, or why its last program failed
export const RESULT = 3;   // worker -> caller: the OR of its calls' results
export const PROGRESS = 4; // calls and barriers passed: lets the caller tell slow from stuck
export const NCALLS = 5;
const MSG_LEN = 6;
const MSG = 16;
const MSG_CHARS = 240;
const CALLS = MSG + MSG_CHARS;
export const CALL_SLOTS = 8;
/** Calls a program holds; a job runs what it has before a program would overflow. */
export const MAX_CALLS = 256;
const BLOCK = CALLS + MAX_CALLS * CALL_SLOTS;

export const STATUS_OK = 0;
export const STATUS_THREW = 1;
export const STATUS_EXITED = 2;

/** Export index of a barrier, and of the faults the tests inject (internal.ts). */
export const BARRIER = -1;
export const FAULT_THROW = -2;
export const FAULT_EXIT = -3;
export const FAULT_HANG = -4;

export function controlBytes(threads: number): number {
  return (HEADER + threads * BLOCK) * 4;
}

/** Where thread t's block starts. */
export function blockOf(t: number): number {
  return HEADER + t * BLOCK;
}

/** Where call i of the program at `base` starts. */
export function callAt(base: number, i: number): number {
  return base + CALLS + i * CALL_SLOTS;
}

/** Blocks until ctl[index] is no longer `value` (or throws: the caller's waits check for faults). */
export type Wait = (ctl: Int32Array, index: number, value: number) => void;

export type Fn = (a: number, b: number, c: number, d: number, e: number, f: number, g: number) => number;

/**
 * Runs the program at `base`: each call in turn, the barriers with the other parties. A call that
 * throws is reported and the program's other calls are skipped, but its barriers are still kept,
 * so that the other threads are never left waiting for this one.
 */
export function runProgram(ctl: Int32Array, base: number, fns: readonly Fn[], wait: Wait,
  fault?: (kind: number) => void): { result: number; error?: unknown } {
  const n = ctl[base + NCALLS];
  let result = 0;
  let error: unknown;
  let failed = false;
  for (let i = 0; i < n; i++) {
    const c = callAt(base, i);
    const fn = ctl[c];
    if (fn === BARRIER) {
      arrive(ctl, wait);
    } else if (!failed) {
      try {
        if (fn < 0) fault?.(fn);
        else result |= fns[fn](ctl[c + 1], ctl[c + 2], ctl[c + 3], ctl[c + 4], ctl[c + 5], ctl[c + 6], ctl[c + 7]) | 0;
      } catch (e) {
        failed = true;
        error = e;
      }
    }
    Atomics.store(ctl, base + PROGRESS, ctl[base + PROGRESS] + 1);
  }
  return { result, error };
}

/** A barrier for the job's parties: the last to arrive resets it and wakes the others. */
function arrive(ctl: Int32Array, wait: Wait): void {
  const gen = Atomics.load(ctl, BARRIER_GEN);
  if (Atomics.add(ctl, BARRIER_COUNT, 1) === Atomics.load(ctl, PARTIES) - 1) {
    Atomics.store(ctl, BARRIER_COUNT, 0);
    Atomics.add(ctl, BARRIER_GEN, 1);
    Atomics.notify(ctl, BARRIER_GEN);
  } else {
    wait(ctl, BARRIER_GEN, gen);
  }
}

/** Stores an error message in a thread's block, clipped to the room there is. */
export function writeMessage(ctl: Int32Array, base: number, text: string): void {
  const n = Math.min(text.length, MSG_CHARS);
  for (let i = 0; i < n; i++) ctl[base + MSG + i] = text.charCodeAt(i);
  ctl[base + MSG_LEN] = n;
}

export function readMessage(ctl: Int32Array, base: number): string {
  let s = '';
  for (let i = 0; i < ctl[base + MSG_LEN]; i++) s += String.fromCharCode(ctl[base + MSG + i]);
  return s;
}

/**
 * Watches the slot for up to `us` microseconds; true if it changed meanwhile. Threads spin
 * before they sleep because waking a sleeping thread is slow where it counts: measured here (a
 * 2-vCPU VM) a round trip through Atomics.wait/notify took about 100 µs, against about 2 µs
 * between spinning threads, and a layer's call is 50 µs to a few ms.
 */
export function spin(ctl: Int32Array, index: number, value: number, us: number): boolean {
  const until = performance.now() + us / 1000;
  for (;;) {
    for (let i = 0; i < 256; i++) if (Atomics.load(ctl, index) !== value) return true;
    if (performance.now() > until) return false;
  }
}

/** A worker's wait: spins across the usual gap between calls (a model's other ops), then sleeps. */
export function blockingWait(ctl: Int32Array, index: number, value: number): void {
  if (spin(ctl, index, value, WORKER_SPIN_US)) return;
  while (Atomics.load(ctl, index) === value) Atomics.wait(ctl, index, value);
}

/** How long a worker spins after its program (and at a barrier) before it sleeps, µs. */
export const WORKER_SPIN_US = 100;
/** How long the calling thread spins for the workers before it sleeps in slices, µs. */
export const CALLER_SPIN_US = 100;
