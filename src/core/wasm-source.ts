// Where the wasm binaries come from: the default URLs beside this module, caller-given URLs or
// bytes, and reading or fetching them as the platform would (files in Node, fetch in pages).

export type Bytes = ArrayBuffer | Uint8Array;

/** The four binaries: portable and relaxed SIMD, each also over a shared, imported memory. */
export type Variant = 'simd' | 'relaxed' | 'simdThreads' | 'relaxedThreads';

/**
 * Where each binary is by default. Written out as literal `new URL('…', import.meta.url)` calls so
 * that bundlers that know the pattern (webpack 5, Vite, Rollup, Parcel) copy the .wasm as an asset
 * and rewrite the URL; a computed path would be invisible to them.
 */
export function defaultUrl(variant: Variant): URL {
  switch (variant) {
    case 'simd': return new URL('../../build/dsconv.wasm', import.meta.url);
    case 'relaxed': return new URL('../../build/dsconv-relaxed.wasm', import.meta.url);
    case 'simdThreads': return new URL('../../build/dsconv-threads.wasm', import.meta.url);
    case 'relaxedThreads': return new URL('../../build/dsconv-relaxed-threads.wasm', import.meta.url);
  }
}

/**
 * Every build imports its memory (so that the plug-in can run a second instance over tfjs's
 * heap, core/guest.ts). The single-thread builds take a plain one; the threaded builds a shared
 * one, with the maximum they declare.
 */
const PLAIN_INITIAL_PAGES = 2;
const SHARED_INITIAL_PAGES = 16;
const SHARED_MAXIMUM_PAGES = 65536;

/** Whether `module` imports its memory (every current build) rather than exporting its own. */
export function importsMemory(module: WebAssembly.Module): boolean {
  return WebAssembly.Module.imports(module).some((i) => i.kind === 'memory');
}

/** Whether `memory` is shared (a threaded build's). */
export function isShared(memory: unknown): boolean {
  return memory instanceof WebAssembly.Memory && typeof SharedArrayBuffer === 'function' && memory.buffer instanceof SharedArrayBuffer;
}

export function isBytes(s: unknown): s is ArrayBuffer | Uint8Array {
  return s instanceof ArrayBuffer || ArrayBuffer.isView(s);
}

/**
 * A fetched module is compiled while it downloads (compileStreaming) when the server labels it
 * exactly application/wasm, as that function demands (engines differ on letter case and
 * parameters, so only the plain form is trusted); any other type, common on misconfigured
 * servers, is read whole and compiled from the bytes instead of failing. A module that imports
 * its memory gets a plain one, or a shared one where a plain one does not link (a threaded
 * build: the JS API cannot ask a module which it declares); one that exports its own (an older
 * build) keeps it.
 */
export async function instantiate(src: Bytes | Response): Promise<{ module: WebAssembly.Module; exports: Record<string, unknown>; shared: boolean }> {
  let module: WebAssembly.Module;
  if (isBytes(src)) module = await WebAssembly.compile(src as BufferSource);
  else if (typeof WebAssembly.compileStreaming === 'function'
    && /^[ \t]*application\/wasm[ \t]*$/.test(src.headers.get('content-type') ?? '')) {
    module = await WebAssembly.compileStreaming(src);
  } else module = await WebAssembly.compile(await src.arrayBuffer());
  let instance: WebAssembly.Instance;
  if (!importsMemory(module)) instance = await WebAssembly.instantiate(module, {});
  else {
    try {
      instance = await WebAssembly.instantiate(module, { env: { memory: new WebAssembly.Memory({ initial: PLAIN_INITIAL_PAGES }) } });
    } catch (e) {
      if (!(e instanceof WebAssembly.LinkError)) throw e;
      const memory = new WebAssembly.Memory({ initial: SHARED_INITIAL_PAGES, maximum: SHARED_MAXIMUM_PAGES, shared: true });
      instance = await WebAssembly.instantiate(module, { env: { memory } });
    }
  }
  const exports = instance.exports as Record<string, unknown>;
  return { module, exports, shared: isShared(exports.memory) };
}

interface Host {
  process?: { versions?: { node?: string } };
  document?: { baseURI?: string };
  location?: { href?: string };
}

// A scheme of two or more letters: "https:", "file:", "blob:" but not a Windows drive ("C:").
const ABSOLUTE_URL = /^[a-z][a-z0-9+.-]+:/i;

/**
 * Reads a module from a URL or path the way the platform would: in Node, `file:` URLs and strings
 * that are not absolute URLs are files (relative to the working directory); in a browser or worker,
 * relative strings are resolved against the page, as fetch() does. `what` names it in errors.
 */
export async function readWasm(url: string | URL, what: string): Promise<Bytes | Response> {
  const host = globalThis as Host;
  const inNode = typeof host.process?.versions?.node === 'string';
  const text = String(url);
  let u: URL | undefined;
  try {
    if (url instanceof URL || ABSOLUTE_URL.test(text)) u = new URL(text);
    else if (!inNode) u = new URL(text, host.document?.baseURI ?? host.location?.href);
  } catch (e) {
    throw new TypeError(`${what} is not a valid URL: ${JSON.stringify(text)}`, { cause: e });
  }
  if (inNode && (u === undefined || u.protocol === 'file:')) {
    // The specifier is a variable so that bundlers targeting browsers leave it alone (esbuild
    // fails on a literal 'node:fs/promises' there) and the comments keep webpack and Vite from
    // warning about it; this branch only runs in Node.
    const fs = 'node:fs/promises';
    const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ fs) as { readFile(path: string | URL): Promise<Uint8Array> };
    try {
      return await readFile(u ?? text);
    } catch (e) {
      throw new Error(`dsconv could not read ${what} from ${u ? u.href : text}: ${(e as Error).message}`, { cause: e });
    }
  }
  let res: Response;
  try {
    res = await fetch(u!);
  } catch (e) {
    throw new Error(`dsconv could not fetch ${what} from ${u!.href}: ${(e as Error).message}`, { cause: e });
  }
  if (!res.ok) throw new Error(`dsconv could not fetch ${what} from ${u!.href}: HTTP ${res.status} ${res.statusText}`.trimEnd());
  return res;
}
