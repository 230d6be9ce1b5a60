// What threads need from the platform, asked in one place: shared memory, a way to start a
// worker (worker_threads in Node, Web Workers in pages), whether this thread may block in
// Atomics.wait, and how many cores there are.
import type { ReadyMessage, StartMessage } from './worker.js';

export interface WorkerHandle {
  start(m: StartMessage): void;
  /** Resolves when the worker is ready, rejects with why it is not (or on timeout). */
  ready(timeoutMs: number): Promise<void>;
  /** Called once if the worker ends or fails outside a program. */
  onFailure(f: (why: string) => void): void;
  terminate(): void;
}

interface Host {
  process?: { versions?: { node?: string }; execArgv?: string[] };
  navigator?: { hardwareConcurrency?: number };
  crossOriginIsolated?: boolean;
  Worker?: new (url: URL | string, o: { type: 'module' }) => WebWorker;
}

interface WebWorker {
  postMessage(m: unknown): void;
  terminate(): void;
  addEventListener(e: 'message', f: (ev: { data: ReadyMessage }) => void): void;
  addEventListener(e: 'error', f: (ev: { message?: string; preventDefault(): void }) => void): void;
}

interface NodeWorker {
  postMessage(m: unknown): void;
  terminate(): Promise<number>;
  unref(): void;
  on(e: 'message', f: (m: ReadyMessage) => void): void;
  on(e: 'error', f: (e: Error) => void): void;
  on(e: 'exit', f: (code: number) => void): void;
}

const host = globalThis as unknown as Host;
export const inNode = typeof host.process?.versions?.node === 'string';

/** The worker script, written as a literal URL so that bundlers that know the pattern copy it. */
export function defaultWorkerUrl(): URL {
  return new URL('./worker.js', import.meta.url);
}

/** Why threads cannot run here, or undefined when they can. */
export async function threadsUnavailable(): Promise<string | undefined> {
  if (!inNode && host.crossOriginIsolated === false) {
    return 'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  }
  if (typeof SharedArrayBuffer !== 'function') return 'SharedArrayBuffer is not available';
  if (!inNode && typeof host.Worker !== 'function') return 'this context cannot start Web Workers';
  if (inNode) {
    try {
      await nodeWorkerClass();
    } catch (e) {
      return `node:worker_threads is not available (${(e as Error).message})`;
    }
  }
  return undefined;
}

/** Cores the platform reports (1 when it does not say). */
export async function cores(): Promise<number> {
  if (inNode) {
    const os = 'node:os';
    const m = await import(/* webpackIgnore: true */ /* @vite-ignore */ os) as { availableParallelism?: () => number; cpus(): unknown[] };
    return m.availableParallelism ? m.availableParallelism() : m.cpus().length;
  }
  return Math.max(1, host.navigator?.hardwareConcurrency ?? 1);
}

/**
 * Whether this thread may sleep in Atomics.wait: Node's main thread and workers may, a page's
 * main thread may not (it spins instead).
 */
export function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

type NodeWorkerClass = new (url: URL | string, o: { execArgv: string[] }) => NodeWorker;

async function nodeWorkerClass(): Promise<NodeWorkerClass> {
  const wt = 'node:worker_threads';
  return (await import(/* webpackIgnore: true */ /* @vite-ignore */ wt) as { Worker: NodeWorkerClass }).Worker;
}

/** Starts one worker from `url`. */
export async function spawn(url: URL | string): Promise<WorkerHandle> {
  let failure: ((why: string) => void) | undefined;
  let settle: ((m: ReadyMessage) => void) | undefined;
  let failed: string | undefined;
  const fail = (why: string) => {
    if (failed !== undefined) return;
    failed = why;
    settle?.({ ready: false, error: why });
    failure?.(why);
  };
  const onReady = (m: ReadyMessage) => settle?.(m);
  let post: (m: unknown) => void;
  let terminate: () => void;
  if (inNode) {
    const Worker = await nodeWorkerClass();
    // Workers take the process's Node options, but --input-type (set by `node -e`) makes one fail.
    const w = new Worker(url, { execArgv: host.process!.execArgv!.filter((a) => !a.startsWith('--input-type')) });
    w.on('message', onReady);
    w.on('error', (e) => fail(`it threw ${e?.message ?? e}`));
    w.on('exit', (code) => fail(`it exited (code ${code})`));
    // A script that is done exits even while the pool is up. After the listeners: adding a
    // 'message' listener refs the worker again.
    w.unref();
    post = (m) => w.postMessage(m);
    terminate = () => void w.terminate();
  } else {
    const w = new host.Worker!(url, { type: 'module' });
    w.addEventListener('message', (ev) => onReady(ev.data));
    w.addEventListener('error', (ev) => {
      ev.preventDefault();
      fail(`it failed to load or threw (${ev.message ?? 'no message'})`);
    });
    post = (m) => w.postMessage(m);
    terminate = () => w.terminate();
  }
  return {
    start: (m) => post(m),
    ready: (timeoutMs) => new Promise<void>((resolve, reject) => {
      if (failed !== undefined) return reject(new Error(failed));
      const timer = setTimeout(() => reject(new Error(`it was not ready after ${timeoutMs} ms`)), timeoutMs);
      settle = (m) => {
        clearTimeout(timer);
        settle = undefined;
        if (m.ready) resolve();
        else reject(new Error(m.error));
      };
    }),
    onFailure: (f) => { failure = f; if (failed !== undefined) f(failed); },
    terminate,
  };
}
