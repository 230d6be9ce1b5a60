// Reading the parameter records of src/core/abi.ts (shared with the host, so neither side can
// drift): each kernel reads its fields once, on entry, into locals.
export { ConvParam, BfpParam, EpilogueParam, GemmParam, QuadformParam, UpdateParam, CholeskyParam } from '../src/core/abi';

/** Slot `slot` of the record at p, as an i32. */
// @ts-ignore: decorator
@inline export function arg(p: usize, slot: i32): i32 {
  return load<i32>(p + (<usize>slot << 2));
}

/** Slot `slot` of the record at p, as a byte offset. */
// @ts-ignore: decorator
@inline export function ptr(p: usize, slot: i32): usize {
  return <usize>load<u32>(p + (<usize>slot << 2));
}

/** Slot `slot` of the record at p, as an f32. */
// @ts-ignore: decorator
@inline export function argf(p: usize, slot: i32): f32 {
  return load<f32>(p + (<usize>slot << 2));
}
