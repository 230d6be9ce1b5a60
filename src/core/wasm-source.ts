// Where the wasm binaries come from: the default URLs beside this module, caller-given URLs or
// bytes, and reading or fetching them as the platform would (files in Node, fetch in pages).

export type Bytes = ArrayBuffer | Uint8Array;

/**
 * Where each binary is by default. Written out as literal `new URL('…', import.meta.url)` calls so
 * that bundlers that know the pattern (webpack 5, Vite, Rollup, Parcel) copy the .wasm as an asset
 * and rewrite the URL; a computed path would be invisible to them.
 */
export function defaultUrl(relaxed: boolean): URL {
  return relaxed
    ? new URL('../../build/dsconv-relaxed.wasm', import.meta.url)
    : new URL('../../build/dsconv.wasm', import.meta.url);
}

export function isBytes(s: unknown): s is ArrayBuffer | Uint8Array {
  return s instanceof ArrayBuffer || ArrayBuffer.isView(s);
}

/**
 * A fetched module is compiled while it downloads (instantiateStreaming) when the server labels it
 * exactly application/wasm, as that function demands (engines differ on letter case and
 * parameters, so only the plain form is trusted); any other type, common on misconfigured
 * servers, is read whole and compiled from the bytes instead of failing.
 */
export async function instantiate(src: Bytes | Response): Promise<Record<string, unknown>> {
  let made: WebAssembly.WebAssemblyInstantiatedSource;
  if (isBytes(src)) made = await WebAssembly.instantiate(src as BufferSource, {});
  else if (typeof WebAssembly.instantiateStreaming === 'function'
    && /^[ \t]*application\/wasm[ \t]*$/.test(src.headers.get('content-type') ?? '')) {
    made = await WebAssembly.instantiateStreaming(src, {});
  } else made = await WebAssembly.instantiate(await src.arrayBuffer(), {});
  return made.instance.exports as Record<string, unknown>;
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
