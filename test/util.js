// Seeded data for reproducible tests: the package's mulberry32 for uniforms, Box–Muller for normals.
// Where the real test photos are, and the comparisons of outputs the tests share.
import { fileURLToPath } from 'node:url';
import { mulberry32 } from 'dsconv/reference';
import { loadRuntime, install, rt } from '../dist/core/internal.js';

/** Real photos committed as fixtures (public domain and CC0; sources and licences in its README). */
export const PHOTOS = fileURLToPath(new URL('fixtures/photos/', import.meta.url));

export function rng(seed) {
  const uniform = mulberry32(seed);
  let spare = null;
  function normal() {
    if (spare !== null) {
      const v = spare;
      spare = null;
      return v;
    }
    // 1 - u keeps the log argument in (0, 1], so never log(0).
    const u1 = 1 - uniform();
    const u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }
  return { uniform, normal };
}

/** n standard normal samples as float32. */
export function randn(r, n) {
  const out = new Float32Array(n);
  for (let k = 0; k < n; k++) out[k] = r.normal();
  return out;
}

/** Same length and every element the same value (Object.is: -0 and NaN count). */
export const identical = (a, b) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

/** The largest |a[i] - b[i]|. */
export const maxDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/** The largest |a[i]|. */
export const peak = (a) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/**
 * Counts the calls of tfjs kernels `names` on the cpu and wasm backends (those registered),
 * under whatever wraps them later (a plug-in's replacement calls through to what it replaced):
 * `calls`, and `restore()` to put the kernels back.
 */
export function countKernels(tf, names) {
  const counter = { calls: 0, originals: [] };
  for (const backend of ['cpu', 'wasm']) {
    for (const name of names) {
      const orig = tf.getKernel(name, backend);
      if (!orig) continue;
      counter.originals.push(orig);
      tf.unregisterKernel(name, backend);
      tf.registerKernel({ ...orig, kernelFunc: (args) => { counter.calls++; return orig.kernelFunc(args); } });
    }
  }
  counter.restore = () => {
    for (const orig of counter.originals) { tf.unregisterKernel(orig.kernelName, orig.backendName); tf.registerKernel(orig); }
  };
  return counter;
}

/**
 * Runs `fn(r)` with r, a runtime loaded with init() `options`, installed as the one layers and
 * kernels use; then puts the previous one back and shuts r down.
 */
export async function onRuntime(options, fn) {
  const r = await loadRuntime(options);
  const was = rt();
  install(r);
  try {
    return await fn(r);
  } finally {
    install(was);
    r.shutdown();
  }
}

/** onRuntime on `threads` threads, splitting every call. */
export function onSplittingThreads(threads, fn) {
  return onRuntime({ threads }, (r) => {
    r.splitMinMacs = 0;
    return fn(r);
  });
}
