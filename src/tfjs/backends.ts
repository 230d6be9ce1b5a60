// Which TF.js backends a plug-in covers, checked against the active one: a plug-in whose
// backends are not active replaces kernels that never run, which used to pass in silence (the
// default browser backend, webgl, was the common case).
import { describe } from '../core/validate.js';
import type { TfLike } from './types.js';

/** The backends whose tensors the plug-in reads where they are. */
export const DEFAULT_BACKENDS = ['cpu', 'wasm'];

const list = (names: readonly string[]) => names.map((n) => `'${n}'`).join(', ');

/**
 * `option` (options.backends) validated, or the defaults. With the defaults, an active backend
 * outside them is a RangeError naming both; with backends given, it is a warning (the app may
 * switch backends later). No backend chosen yet (tf.getBackend() is null): nothing to check.
 */
export function coveredBackends(tf: TfLike, option: unknown, warn: (msg: string) => void = console.warn): string[] {
  const backends = option === undefined ? DEFAULT_BACKENDS : option;
  if (!Array.isArray(backends) || backends.length === 0 || backends.some((b) => typeof b !== 'string')) {
    throw new TypeError(`options.backends must be a non-empty array of backend names, got ${describe(backends)}`);
  }
  const active = typeof tf.getBackend === 'function' ? tf.getBackend() : null;
  if (typeof active !== 'string' || backends.includes(active)) return backends;
  if (option === undefined) {
    throw new RangeError(`useDSConv: the active TF.js backend is '${active}', and the plug-in covers ${list(DEFAULT_BACKENDS)}, `
      + `so its convs would run unchanged. Call await tf.setBackend('wasm') (or 'cpu') first, or pass `
      + `options.backends: ['${active}'] to run DSConv on that backend's tensors, read back to the CPU and written back for each conv.`);
  }
  warn(`dsconv: useDSConv covers ${list(backends)} but the active TF.js backend is '${active}': its convs run unchanged `
    + `until tf.setBackend() selects one of ${list(backends)}.`);
  return backends;
}
