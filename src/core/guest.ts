// A guest runtime: the loaded module instantiated a second time over another wasm module's memory
// (tfjs-backend-wasm's heap), allocating from that module's malloc. Layers made on it read their
// input and write their output where the host module keeps its tensors, with no copy between two
// memories. Only the plain builds can be guests, a threaded build needing a shared memory: beside a
// threaded runtime, the plain twin init() loads with it is the guest.
import { ForeignHeap } from './heap.js';
import { checkExports } from './exports.js';
import { Runtime, addGuest, rt } from './runtime.js';
import { importsMemory, isShared } from './wasm-source.js';

/** What a guest needs of its host module: its memory and the allocator over it. */
export interface HostHeap {
  memory: WebAssembly.Memory;
  malloc(bytes: number): number;
  free(ptr: number): void;
}

/**
 * A runtime over `host`'s memory, with the installed runtime's build, or why there is none:
 * the installed module owns its memory (an older build), is threaded and its plain twin did not
 * load, or this engine does not instantiate synchronously (old Chrome refused modules over 4 KB
 * on its main thread). The layers it makes run on the calling thread only; close() it after
 * disposing them.
 */
export function guestRuntime(host: HostHeap): Runtime | string {
  const main = rt();
  if (!importsMemory(main.module)) return 'the loaded module has its own memory';
  const module = isShared(main.k.memory) ? main.plainTwin : main.module;
  if (!module) return `the loaded module is a threaded build, and ${main.twinReason ?? 'it has no single-thread twin'}`;
  let exports: Record<string, unknown>;
  try {
    exports = new WebAssembly.Instance(module, { env: { memory: host.memory } }).exports as Record<string, unknown>;
  } catch (e) {
    return `the module could not be instantiated over the host's memory: ${(e as Error).message}`;
  }
  const { kernels } = checkExports(exports);
  const guest = new Runtime(kernels, main.build, module, new ForeignHeap(host.malloc, host.free));
  addGuest(guest);
  return guest;
}
