// Pieces shared by the tiled DSConv kernels (not exported from the module).

// Adds one block's int32 sums for 8 outputs of a pixel, times ξ (xl, xh), times the pixel's
// block scale s = 2^(E-m+2) (read from sp), into the float sums at o. s is applied last: it is a power of two,
// so only an underflow of the final term can round there, where ξ * s could lose bits first.
// Every kernel rescales through this one function, so all builds round identically.
// @ts-ignore: decorator
@inline export function rescale(o: usize, al: v128, ah: v128, xl: v128, xh: v128, sp: usize): void {
  const sv = v128.load32_splat(sp);
  v128.store(o, f32x4.add(v128.load(o), f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(al), xl), sv)));
  v128.store(o, f32x4.add(v128.load(o, 16), f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(ah), xh), sv)), 16);
}
