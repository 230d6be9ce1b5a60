// What the engine supports, asked before a build is chosen: two tiny modules that validate only
// where fixed-width or relaxed SIMD exist, and a run-time check that the relaxed dot product of
// a loaded module computes exact integers (an engine may validate the opcode yet compute it
// wrongly, as Node 20's baseline tier does).
import type { Kernels } from './exports.js';

// The smallest module that uses a v128 value: validates only where fixed-width SIMD exists.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);
// The same with one i32x4.relaxed_dot_i8x16_i7x16_add_s: validates only where relaxed SIMD exists.
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0, 253, 15, 65, 0, 253,
  15, 65, 0, 253, 15, 253, 147, 2, 11,
]);

export function hasSimd(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
}

export function hasRelaxedSimd(): boolean {
  return WebAssembly.validate(RELAXED_PROBE);
}

/**
 * Runs the relaxed dot product on vectors whose exact lanes are known: int8 extremes against
 * 7-bit values, four-product sums past the int16 range, accumulators near the int32 ends.
 * Returns undefined when every lane is exact, else what went wrong. Uses 64 bytes at `at`
 * (by default heap_base, before any layer exists).
 */
export function relaxedDotFault(k: Kernels, at = k.heap_base()): string | undefined {
  const a = new Int8Array([-128, -128, -128, -128, 127, 127, 127, 127, -128, 127, -1, 5, -7, 100, -100, 0]);
  const b = new Uint8Array([127, 127, 127, 127, 127, 127, 127, 127, 127, 0, 64, 126, 1, 77, 3, 127]);
  const c = new Int32Array([-2147483648 + 70000, 2147483647 - 70000, 123456, -5]);
  const base = (at + 15) & ~15;
  const mem = () => new Uint8Array(k.memory.buffer);
  mem().set(new Uint8Array(a.buffer), base);
  mem().set(b, base + 16);
  mem().set(new Uint8Array(c.buffer), base + 32);
  k.probe_relaxed_dot!(base, base + 16, base + 32, base + 48);
  const got = new Int32Array(k.memory.buffer, base + 48, 4);
  for (let lane = 0; lane < 4; lane++) {
    let want = c[lane];
    for (let j = 0; j < 4; j++) want += a[4 * lane + j] * b[4 * lane + j];
    if (got[lane] !== want) return `lane ${lane}: ${got[lane]}, expected ${want}`;
  }
  return undefined;
}
