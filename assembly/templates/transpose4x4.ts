// A 4x4 float32 transpose through registers, shared by the layout and epilogue kernels.

// Transposes the 4x4 float32 block whose rows are a, b, c, d; the columns land in a, b, c, d.
// @ts-ignore: decorator
@inline export function transpose4(p: usize, a: v128, b: v128, c: v128, d: v128, stride: usize): void {
  const ab0 = v128.shuffle<f32>(a, b, 0, 4, 1, 5);
  const ab1 = v128.shuffle<f32>(a, b, 2, 6, 3, 7);
  const cd0 = v128.shuffle<f32>(c, d, 0, 4, 1, 5);
  const cd1 = v128.shuffle<f32>(c, d, 2, 6, 3, 7);
  v128.store(p, v128.shuffle<f32>(ab0, cd0, 0, 1, 4, 5));
  v128.store(p + stride, v128.shuffle<f32>(ab0, cd0, 2, 3, 6, 7));
  v128.store(p + 2 * stride, v128.shuffle<f32>(ab1, cd1, 0, 1, 4, 5));
  v128.store(p + 3 * stride, v128.shuffle<f32>(ab1, cd1, 2, 3, 6, 7));
}
