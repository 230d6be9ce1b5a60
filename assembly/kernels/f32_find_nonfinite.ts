// The input check of the float paths (the integer paths fold it into their BFP pass).
import { lanes } from '../templates/lanes';

/** Index of the first NaN or ±Inf among n float32 at ptr, or -1. */
export function f32_find_nonfinite(ptr: usize, n: i32): i32 {
  const n4 = n & ~3;
  const expMask = lanes(0x7f800000);
  let i = 0;
  for (; i < n4; i += 4) {
    const e = v128.and(v128.load(ptr + <usize>i * 4), expMask);
    if (v128.any_true(i32x4.eq(e, expMask))) break;
  }
  for (; i < n; i++) {
    if ((load<i32>(ptr + <usize>i * 4) & 0x7f800000) == 0x7f800000) return i;
  }
  return -1;
}
