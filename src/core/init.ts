// init(): choosing a build for this engine, loading it (wasm-source.ts), checking it (exports.ts,
// probes.ts) and installing the runtime every layer uses (runtime.ts).
import { type Build, Runtime, install, isInstalled, rt } from './runtime.js';
import { type Kernels, checkExports } from './exports.js';
import { hasSimd, hasRelaxedSimd, relaxedDotFault } from './probes.js';
import { type Bytes, type Variant, defaultUrl, instantiate, isBytes, readWasm } from './wasm-source.js';
import { EXPORT_NAMES } from './threads/job.js';
import { Pool } from './threads/pool.js';
import { cores, defaultWorkerUrl, threadsUnavailable } from './threads/platform.js';
import type { Fn } from './threads/control.js';
import { describe, keysOf, knownOptions } from './validate.js';

type Source<T> = T | Partial<Record<Variant, T>>;

export interface InitOptions {
  /**
   * Which binary to use. 'auto' (default) takes the relaxed build only where the engine
   * validates it and its dot product passes a run-time probe; 'simd' or 'relaxed' forces one
   * ('relaxed' rejects where it would not be exact). In Node the DSCONV_BUILD environment
   * variable sets the default.
   */
  build?: 'auto' | Build;
  /**
   * Threads a call may run on, the calling one included: a number from 1 to 64, or 'auto'
   * (default): half the cores the platform reports, rounded up, at most 4 (onnxruntime-web's
   * rule). 1 runs everything on the calling thread with no workers. More than 1 needs shared
   * memory and workers; where they are missing (a page that is not cross-origin isolated) the
   * runtime runs on one thread and getInfo() says why. Half the cores because the rest of an app
   * (a model's other ops, a page) needs them: on 2 cores MobileNetV2 through the TF.js plug-in
   * ran no faster on 2 threads than on 1, though single layers and the RDN upscaler did
   * (docs/BENCHMARKS.md#threads-through-the-plug-in).
   * At most four because each call has barriers between its phases, which cost small layers
   * more than the split gains past that; ask for more on big inputs. More than 1 also loads the
   * threaded build's single-thread twin, on which the TF.js plug-in runs the calls not worth
   * copying into shared memory, in place on tfjs-backend-wasm's heap. In Node the DSCONV_THREADS
   * environment variable sets the default.
   */
  threads?: number | 'auto';
  /** Where the workers' script is (threads/worker.js beside this module by default): for bundles that move it. */
  workerUrl?: string | URL;
  /**
   * Where to fetch the .wasm from: one URL (that exact module) or one per build: simd, relaxed,
   * and their threaded twins simdThreads, relaxedThreads. Default: next to this module.
   */
  wasmUrl?: Source<string | URL>;
  /** The .wasm bytes themselves, one module or one per build; takes precedence over wasmUrl. */
  wasmBinary?: Source<ArrayBuffer | Uint8Array>;
}

const INIT_KEYS = keysOf<InitOptions>({ build: 1, threads: 1, workerUrl: 1, wasmUrl: 1, wasmBinary: 1 });
const VARIANTS: readonly Variant[] = ['simd', 'relaxed', 'simdThreads', 'relaxedThreads'];
const MAX_THREADS = 64;

let loading: Promise<Runtime> | undefined;
/** The options of the init() call that loaded the runtime (or is loading it). */
let first: InitOptions | undefined;

/**
 * Loads and instantiates the wasm module. Safe to call more than once: a later call resolves
 * once the module is loaded. Options take effect once per process or page, so a later call
 * that gives an option differing from the first call's rejects with a RangeError naming it,
 * rather than being silently ignored; no options, or the same ones, are always fine.
 */
export function init(options: InitOptions = {}): Promise<void> {
  try {
    checkOptions(options);
  } catch (e) {
    return Promise.reject(e);
  }
  if (!loading && !isInstalled()) {
    first = { ...options };
    loading = loadRuntime(options).then((r) => { install(r); return r; })
      .catch((e: unknown) => { first = undefined; throw e; })
      .finally(() => (loading = undefined));
  }
  const ready = loading ?? Promise.resolve();
  return ready.then(() => checkSame(first!, options));
}

/**
 * A later init()'s options against the first call's, by value, whatever the option. `build`
 * compares with the build in use: 'auto' always agrees, and the first call's 'auto' became one.
 */
function checkSame(was: InitOptions, now: InitOptions): void {
  const a = was as Record<string, unknown>, b = now as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (b[key] === undefined) continue;
    if (key === 'build') {
      const inUse = rt().build;
      if (b.build !== 'auto' && b.build !== inUse) {
        throw new RangeError(`options.build is '${String(b.build)}', but dsconv is already initialised with the '${inUse}' build; init() options take effect once per process or page`);
      }
    } else if (key === 'threads') {
      // Like build: the count the first call resolved ('auto' became one) is what agrees.
      const asked = rt().threadsAsked;
      if (b.threads !== 'auto' && b.threads !== asked) {
        throw new RangeError(`options.threads is ${String(b.threads)}, but dsconv is already initialised for ${asked} thread${asked === 1 ? '' : 's'}; init() options take effect once per process or page`);
      }
    } else if (!sameValue(a[key], b[key])) {
      throw new RangeError(`options.${key} differs from the first init() call's${a[key] === undefined ? ', which did not give it' : ''}; init() options take effect once per process or page, so call it again with no options or the same ones`);
    }
  }
}

/** Equal as options: primitives, URLs by href, bytes by content, plain objects key by key. */
function sameValue(x: unknown, y: unknown): boolean {
  if (Object.is(x, y)) return true;
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
  if (x instanceof URL || y instanceof URL) return x instanceof URL && y instanceof URL && x.href === y.href;
  if (isBytes(x) || isBytes(y)) {
    if (!isBytes(x) || !isBytes(y)) return false;
    const u = x instanceof Uint8Array ? x : new Uint8Array(x), v = y instanceof Uint8Array ? y : new Uint8Array(y);
    return u.length === v.length && u.every((e, i) => e === v[i]);
  }
  const xs = x as Record<string, unknown>, ys = y as Record<string, unknown>;
  const keys = new Set([...Object.keys(xs), ...Object.keys(ys)]);
  for (const k of keys) if (!sameValue(xs[k], ys[k])) return false;
  return true;
}

function requestedBuild(options: InitOptions): 'auto' | Build {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.DSCONV_BUILD;
  const [name, value] = options.build !== undefined ? ['options.build', options.build] : ['DSCONV_BUILD', env || 'auto'];
  if (value !== 'auto' && value !== 'simd' && value !== 'relaxed') {
    throw new RangeError(`${name} must be 'auto', 'simd' or 'relaxed', got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * A runtime over the build `options` pick, not installed: init() installs the one it loads, and
 * the kernel tests load each build side by side.
 */
export async function loadRuntime(options: InitOptions = {}): Promise<Runtime> {
  checkOptions(options);
  if (!hasSimd()) {
    throw new Error('dsconv needs WebAssembly fixed-width SIMD, which this engine does not support: '
      + 'it runs in Chrome 91, Firefox 89, Safari 16.4, Node 20 or newer');
  }
  const want = requestedBuild(options);
  const asked = await requestedThreads(options);
  let why = asked > 1 ? await threadsUnavailable() ?? noThreadedSource(options) : undefined;
  const threaded = asked > 1 && why === undefined;
  const single = isSingle(options.wasmBinary) ? options.wasmBinary : options.wasmBinary === undefined && isSingle(options.wasmUrl) ? options.wasmUrl : undefined;
  let loaded: Loaded;
  if (single !== undefined) {
    // One module given: use exactly it, after checking it is what was asked for and exact.
    loaded = await load(isBytes(single) ? single : await readWasm(single, 'options.wasmUrl'));
    const build: Build = loaded.relaxed ? 'relaxed' : 'simd';
    if (want !== 'auto' && want !== build) throw new Error(`dsconv: the build asked for is '${want}' but the module given is the '${build}' build`);
    const fault = loaded.relaxed ? relaxedDotFault(loaded.kernels) : undefined;
    if (fault) throw new Error(`dsconv: the module given is the relaxed build, but this engine's relaxed dot product is not exact (${fault})`);
    if (threaded && !loaded.shared) why = 'the module given is not a threaded build (dsconv-threads.wasm or dsconv-relaxed-threads.wasm)';
  } else {
    loaded = await pick(options, want, threaded);
  }
  const r = new Runtime(loaded.kernels, loaded.relaxed ? 'relaxed' : 'simd', loaded.module);
  // The same build over a plain memory, for guests on another module's heap (guest.ts): tfjs's
  // small calls run there with no copy, on one thread, beside the workers. Without one the
  // threaded runtime still runs; guests are only a saving.
  const twin = threaded && loaded.shared && single === undefined
    ? loadTwin(options, loaded.relaxed ? 'relaxed' : 'simd').catch((e: unknown) => (e as Error).message) : undefined;
  if (threaded && loaded.shared) {
    try {
      const probeAt = [0];
      for (let t = 1; t < asked; t++) probeAt.push(r.heap.alloc(80));
      r.attach(await Pool.create({
        threads: asked, module: loaded.module, memory: loaded.kernels.memory, names: EXPORT_NAMES,
        fns: EXPORT_NAMES.map((n) => (loaded.kernels[n] ?? unavailable(n)) as Fn),
        workerUrl: options.workerUrl ?? defaultWorkerUrl(), probeAt,
      }));
    } catch (e) {
      why = `the workers could not start: ${(e as Error).message}`;
    }
  }
  if (twin) {
    const t = await twin;
    if (typeof t === 'string') r.twinReason = `its single-thread twin did not load: ${t}`;
    else r.plainTwin = t;
  } else if (loaded.shared) r.twinReason = 'no single-thread twin was given beside it';
  r.threadsAsked = asked;
  if (why !== undefined) r.threadsReason = `${asked} threads were asked for, 1 runs: ${why}`;
  return r;
}

interface Loaded {
  module: WebAssembly.Module;
  kernels: Kernels;
  relaxed: boolean;
  /** Whether its memory is shared (a threaded build). */
  shared: boolean;
}

async function load(src: Bytes | Response): Promise<Loaded> {
  const { module, exports, shared } = await instantiate(src);
  return { module, shared, ...checkExports(exports) };
}

/** The relaxed build where it validates and is exact (unless `want` says otherwise), else the portable one. */
async function pick(options: InitOptions, want: 'auto' | Build, threaded: boolean): Promise<Loaded> {
  if (want !== 'simd') {
    if (hasRelaxedSimd()) {
      const loaded = await load(await source(options, threaded ? 'relaxedThreads' : 'relaxed'));
      const fault = relaxedDotFault(loaded.kernels);
      if (!fault) return loaded;
      if (want === 'relaxed') throw new Error(`dsconv: the relaxed build was asked for, but this engine's relaxed dot product is not exact (${fault})`);
    } else if (want === 'relaxed') {
      throw new Error('dsconv: the relaxed build was asked for, but this engine does not support relaxed SIMD');
    }
  }
  return load(await source(options, threaded ? 'simdThreads' : 'simd'));
}

/**
 * The single-thread module of `build`, for guests to instantiate over their host's memory:
 * loaded once here to check that it is that build and, if relaxed, exact on this engine.
 */
async function loadTwin(options: InitOptions, build: Build): Promise<WebAssembly.Module> {
  const loaded = await load(await source(options, build));
  if (loaded.shared || loaded.relaxed !== (build === 'relaxed')) throw new Error(`the module given as the ${build} build is another build`);
  const fault = loaded.relaxed ? relaxedDotFault(loaded.kernels) : undefined;
  if (fault) throw new Error(`its relaxed dot product is not exact (${fault})`);
  return loaded.module;
}

/** Exports of the relaxed build only, which a portable module lacks: never called there. */
function unavailable(name: string): Fn {
  return () => {
    throw new Error(`dsconv internal: ${name} called on a build that lacks it`);
  };
}

/**
 * Sources given per build but none for a threaded one: the caller ships only the plain builds
 * (a bundle made before threads existed), so those run, on one thread.
 */
function noThreadedSource(options: InitOptions): string | undefined {
  for (const [name, v] of [['wasmBinary', options.wasmBinary], ['wasmUrl', options.wasmUrl]] as const) {
    if (v === undefined || isSingle(v)) continue;
    const o = v as Partial<Record<Variant, unknown>>;
    if (o.simdThreads === undefined && o.relaxedThreads === undefined) return `options.${name} gives no threaded build (simdThreads, relaxedThreads)`;
  }
  return undefined;
}

async function requestedThreads(options: InitOptions): Promise<number> {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.DSCONV_THREADS;
  const [name, value]: [string, unknown] = options.threads !== undefined ? ['options.threads', options.threads]
    : env ? ['DSCONV_THREADS', env === 'auto' ? env : Number(env)] : ['options.threads', 'auto'];
  checkThreads(name, value);
  return value === 'auto' ? Math.min(4, Math.ceil(await cores() / 2)) : value as number;
}

function checkThreads(name: string, v: unknown): void {
  if (v !== 'auto' && (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_THREADS)) {
    throw new RangeError(`${name} must be 'auto' or an integer from 1 to ${MAX_THREADS}, got ${describe(v)}`);
  }
}

function checkOptions(options: InitOptions): void {
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${describe(options)}`);
  knownOptions('options', options, INIT_KEYS);
  checkSource('options.wasmUrl', options.wasmUrl, (v) => typeof v === 'string' || v instanceof URL, 'a string or a URL');
  checkSource('options.wasmBinary', options.wasmBinary, isBytes, 'an ArrayBuffer or a Uint8Array');
  if (options.workerUrl !== undefined && typeof options.workerUrl !== 'string' && !(options.workerUrl instanceof URL)) {
    throw new TypeError(`options.workerUrl must be a string or a URL, got ${describe(options.workerUrl)}`);
  }
  if (options.threads !== undefined) checkThreads('options.threads', options.threads);
}

/** wasmUrl / wasmBinary: undefined, one value, or an object with a value per build. */
function checkSource(name: string, v: unknown, ok: (v: unknown) => boolean, what: string): void {
  if (v === undefined || ok(v)) return;
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v) || Array.isArray(v)) {
    throw new TypeError(`${name} must be ${what}, or { ${VARIANTS.join(', ')} } of those, got ${describe(v)}`);
  }
  for (const key of Object.keys(v)) {
    if (!(VARIANTS as string[]).includes(key)) throw new RangeError(`${name} has an unknown key ${JSON.stringify(key)}; expected one of ${VARIANTS.map((k) => `'${k}'`).join(', ')}`);
    const x = (v as Record<string, unknown>)[key];
    if (x !== undefined && !ok(x)) throw new TypeError(`${name}.${key} must be ${what}, got ${describe(x)}`);
  }
}

function isSingle<T>(s: Source<T> | undefined): s is T {
  return typeof s === 'string' || s instanceof URL || isBytes(s);
}

async function source(options: InitOptions, variant: Variant): Promise<Bytes | Response> {
  const bin = options.wasmBinary as Partial<Record<Variant, Bytes>> | undefined;
  const given = bin?.[variant];
  if (given) return given;
  const url = options.wasmUrl as Partial<Record<Variant, string | URL>> | undefined;
  const own = url?.[variant];
  return own === undefined ? readWasm(defaultUrl(variant), `the ${variant} build`) : readWasm(own, `options.wasmUrl.${variant}`);
}
