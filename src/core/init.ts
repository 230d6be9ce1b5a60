// init(): choosing a build for this engine, loading it (wasm-source.ts), checking it (exports.ts,
// probes.ts) and installing the runtime every layer uses (runtime.ts).
import { type Build, Runtime, install, isInstalled } from './runtime.js';
import { checkExports } from './exports.js';
import { hasSimd, hasRelaxedSimd, relaxedDotFault } from './probes.js';
import { type Bytes, defaultUrl, instantiate, isBytes, readWasm } from './wasm-source.js';
import { describe } from './validate.js';

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

let loading: Promise<Runtime> | undefined;

/** Loads and instantiates the wasm module. Safe to call more than once. */
export function init(options: InitOptions = {}): Promise<void> {
  try {
    checkOptions(options);
  } catch (e) {
    return Promise.reject(e);
  }
  if (isInstalled()) return Promise.resolve();
  loading ??= loadRuntime(options).then((r) => { install(r); return r; }).finally(() => (loading = undefined));
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
  const single = isSingle(options.wasmBinary) ? options.wasmBinary : options.wasmBinary === undefined && isSingle(options.wasmUrl) ? options.wasmUrl : undefined;
  if (single !== undefined) {
    // One module given: use exactly it, after checking it is what was asked for and exact.
    const { kernels, relaxed } = checkExports(await instantiate(isBytes(single) ? single : await readWasm(single, 'options.wasmUrl')));
    const build: Build = relaxed ? 'relaxed' : 'simd';
    if (want !== 'auto' && want !== build) throw new Error(`dsconv: the build asked for is '${want}' but the module given is the '${build}' build`);
    const fault = relaxed ? relaxedDotFault(kernels) : undefined;
    if (fault) throw new Error(`dsconv: the module given is the relaxed build, but this engine's relaxed dot product is not exact (${fault})`);
    return new Runtime(kernels, build);
  }
  if (want !== 'simd') {
    if (hasRelaxedSimd()) {
      const { kernels } = checkExports(await instantiate(await source(options, 'relaxed')));
      const fault = relaxedDotFault(kernels);
      if (!fault) return new Runtime(kernels, 'relaxed');
      if (want === 'relaxed') throw new Error(`dsconv: the relaxed build was asked for, but this engine's relaxed dot product is not exact (${fault})`);
    } else if (want === 'relaxed') {
      throw new Error('dsconv: the relaxed build was asked for, but this engine does not support relaxed SIMD');
    }
  }
  return new Runtime(checkExports(await instantiate(await source(options, 'simd'))).kernels, 'simd');
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

async function source(options: InitOptions, build: Build): Promise<Bytes | Response> {
  const bin = options.wasmBinary as Partial<Record<Build, Bytes>> | undefined;
  const given = bin?.[build];
  if (given) return given;
  const url = options.wasmUrl as Partial<Record<Build, string | URL>> | undefined;
  const own = url?.[build];
  return own === undefined ? readWasm(defaultUrl(build === 'relaxed'), `the ${build} build`) : readWasm(own, `options.wasmUrl.${build}`);
}
