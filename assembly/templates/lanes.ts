// Vector constants for hot loops. binaryen folds a splat of a constant into a v128.const and
// places it at each use, inside the loops; V8 13 and later (Node 24, Chrome 143) then build the
// vector anew at every use: the depthwise BFP pass ran 1.6x slower than with its vectors made
// once and kept in registers (a loop of masks and adds 2.6x; in Firefox 1.25x), and the bfloat16
// depthwise kernel, whose widening shuffles take a zero vector, 1.08x. V8 11 (Node 20)
// reads a v128.const from memory, and the register copies cost it more (that loop 1.2x slower).
// So the relaxed build, which only newer engines load, makes its loops' vectors at run time; the
// portable build keeps the constants.

/** 0, always: exported and mutable, so the optimizer cannot fold what is made from it. */
export let opaque_zero: i32 = 0;

/** `v` in every lane: a constant in the portable build, made at run time in the relaxed one. */
// @ts-ignore: decorator
@inline export function lanes(v: i32): v128 {
  return i32x4.splat(ASC_FEATURE_RELAXED_SIMD ? v | opaque_zero : v);
}
