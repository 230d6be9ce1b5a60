// NCHW -> NHWC of one image, the layout the conv kernels read.
import { transpose4 } from '../templates/transpose4x4';

/**
 * Copies a [rows][cols] float32 matrix (rows srcStride floats apart) to dst transposed: element
 * (r, c) to dst[c * dstStride + r], zeroing dst[c * dstStride + rows .. (c+1) * dstStride].
 * NCHW -> NHWC with rows = C, cols = H*W (or a run of the pixels: threads split them).
 */
export function f32_transpose(src: usize, rows: i32, cols: i32, srcStride: i32, dst: usize, dstStride: i32): void {
  const rs = <usize>srcStride * 4;
  const ds = <usize>dstStride * 4;
  const r4 = rows & ~3;
  const c4 = cols & ~3;
  // 4x4 blocks through registers, walking down 4-row strips so the writes stay within a few
  // cache lines per destination row.
  for (let c = 0; c < c4; c += 4) {
    for (let r = 0; r < r4; r += 4) {
      const s = src + <usize>r * rs + <usize>c * 4;
      transpose4(dst + <usize>c * ds + <usize>r * 4, v128.load(s), v128.load(s + rs), v128.load(s + 2 * rs), v128.load(s + 3 * rs), ds);
    }
  }
  for (let c = 0; c < cols; c++) {
    const r0 = c < c4 ? r4 : 0;
    for (let r = r0; r < rows; r++) store<f32>(dst + <usize>c * ds + <usize>r * 4, load<f32>(src + <usize>r * rs + <usize>c * 4));
    for (let r = rows; r < dstStride; r++) store<f32>(dst + <usize>c * ds + <usize>r * 4, 0);
  }
}
