// Run-time check of the relaxed int8 dot product: the host feeds it chosen vectors and compares
// the lanes with exact integer arithmetic before trusting the relaxed kernels (an engine may
// validate the opcode yet compute it wrongly, as Node 20's baseline tier does).

/** out[0..3] = i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, c), all four 16-byte vectors in memory. */
export function probe_relaxed_dot(a: usize, b: usize, c: usize, out: usize): void {
  v128.store(out, i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(a), v128.load(b), v128.load(c)));
}
