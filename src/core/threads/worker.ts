// A pool worker (a Node worker_threads Worker or a Web Worker): instantiates the module over the
// shared memory, answers that it is ready, then runs the programs the calling thread writes into
// its block of the control block (control.ts) until the pool shuts down. After the first
// message it never returns to its event loop: it sleeps in Atomics.wait between programs.
import {
  DONE, RESULT, SEQ, SHUTDOWN, STATUS, STATUS_EXITED, STATUS_OK, STATUS_THREW, FAULT_EXIT, FAULT_HANG,
  type Fn, blockOf, blockingWait, runProgram, writeMessage,
} from './control.js';
import { relaxedDotFault } from '../probes.js';
import type { Kernels } from '../exports.js';

/** What the pool sends a worker once. */
export interface StartMessage {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  /** This worker's thread number, 1.. (0 is the calling thread). */
  index: number;
  /** Export names in the order programs number them. */
  names: readonly string[];
  /** 64 bytes of memory this worker's probe of the relaxed dot product may use. */
  probeAt: number;
}

/** What a worker answers: ready, or why it cannot run. */
export type ReadyMessage = { ready: true } | { ready: false; error: string };

interface Port {
  post(m: ReadyMessage): void;
  exit(): void;
}

async function start(m: StartMessage, port: Port, onExit: (hook: () => void) => void): Promise<void> {
  let fns: Fn[];
  try {
    const { exports } = await WebAssembly.instantiate(m.module, { env: { memory: m.memory } });
    const k = exports as unknown as Kernels;
    // Each thread checks the relaxed dot product itself: its tier may differ from the caller's.
    const fault = k.probe_relaxed_dot ? relaxedDotFault(k, m.probeAt) : undefined;
    if (fault) throw new Error(`the relaxed dot product is not exact on this thread (${fault})`);
    fns = m.names.map((n) => exports[n] as Fn);
  } catch (e) {
    port.post({ ready: false, error: (e as Error)?.message ?? String(e) });
    return;
  }
  const ctl = new Int32Array(m.control);
  const base = blockOf(m.index);
  // A worker that ends (process.exit in Node) says so, so that the caller stops waiting for it.
  onExit(() => {
    Atomics.store(ctl, base + STATUS, STATUS_EXITED);
    Atomics.notify(ctl, base + DONE);
  });
  // Read before answering: the caller may write the first program the moment it hears.
  let seen = Atomics.load(ctl, base + SEQ);
  port.post({ ready: true });
  for (;;) {
    blockingWait(ctl, base + SEQ, seen);
    seen = Atomics.load(ctl, base + SEQ);
    if (Atomics.load(ctl, SHUTDOWN)) break;
    const { result, error } = runProgram(ctl, base, fns, blockingWait, (kind) => {
      if (kind === FAULT_EXIT) port.exit();
      if (kind === FAULT_HANG) while (!Atomics.load(ctl, SHUTDOWN)) Atomics.wait(ctl, SHUTDOWN, 0);
      throw new Error('a fault injected by a test');
    });
    ctl[base + RESULT] = result;
    if (error !== undefined) writeMessage(ctl, base, (error as Error)?.message ?? String(error));
    ctl[base + STATUS] = error === undefined ? STATUS_OK : STATUS_THREW;
    Atomics.store(ctl, base + DONE, seen);
    Atomics.notify(ctl, base + DONE);
  }
  port.exit();
}

interface NodeWorkerThreads {
  parentPort: { once(e: 'message', f: (m: StartMessage) => void): void; postMessage(m: ReadyMessage): void; close(): void };
}

const host = globalThis as unknown as {
  process?: { versions?: { node?: string }; exit(code?: number): never; on(e: 'exit', f: () => void): void };
  postMessage?: (m: ReadyMessage) => void;
  close?: () => void;
  addEventListener?: (e: 'message', f: (ev: { data: StartMessage }) => void, o: { once: true }) => void;
};

if (typeof host.process?.versions?.node === 'string') {
  // A variable specifier, as in wasm-source.ts: bundlers for pages must leave it alone.
  const wt = 'node:worker_threads';
  const { parentPort } = await import(/* webpackIgnore: true */ /* @vite-ignore */ wt) as NodeWorkerThreads;
  const proc = host.process!;
  parentPort.once('message', (m) => void start(m, {
    post: (r) => parentPort.postMessage(r),
    exit: () => proc.exit(0),
  }, (hook) => proc.on('exit', hook)));
} else {
  host.addEventListener!('message', (ev) => void start(ev.data, {
    post: (r) => host.postMessage!(r),
    exit: () => host.close!(),
  }, () => undefined), { once: true });
}
