// The epilogue's arithmetic on four channels, for every kernel that applies it (f32_epilogue's
// pass, and the conv kernels that fuse it): one implementation, so a fused and an unfused output
// are the same bits.

/** clamp(acc * scale + shift, lo, hi), the clamp as pmax then pmin. */
// @ts-ignore: decorator
@inline export function epilogue4(acc: v128, scale: v128, shift: v128, vlo: v128, vhi: v128): v128 {
  return f32x4.pmin(f32x4.pmax(f32x4.add(f32x4.mul(acc, scale), shift), vlo), vhi);
}
