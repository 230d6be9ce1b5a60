// NHWC with a wider pixel stride (the depthwise float path pads channels to a multiple of 4).

/** Copies `pixels` rows of `channels` float32 from stride srcStride to stride dstStride, zero-padded. */
export function f32_repack(src: usize, pixels: i32, channels: i32, srcStride: i32, dst: usize, dstStride: i32): void {
  for (let p = 0; p < pixels; p++) {
    const d = dst + <usize>(p * dstStride) * 4;
    memory.copy(d, src + <usize>(p * srcStride) * 4, <usize>channels * 4);
    memory.fill(d + <usize>channels * 4, 0, <usize>(dstStride - channels) * 4);
  }
}
