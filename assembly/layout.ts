// Data movement around the kernels: input checks, layout changes, and the output epilogue.

/** Index of the first NaN or ±Inf among n float32 at ptr, or -1. */
export function find_nonfinite_f32(ptr: usize, n: i32): i32 {
  const n4 = n & ~3;
  const expMask = i32x4.splat(0x7f800000);
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

/**
 * Copies a [rows][cols] float32 matrix to dst transposed: element (r, c) to dst[c * dstStride + r],
 * zeroing dst[c * dstStride + rows .. (c+1) * dstStride]. NCHW -> NHWC with rows = C, cols = H*W.
 */
export function transpose_f32(src: usize, rows: i32, cols: i32, dst: usize, dstStride: i32): void {
  // 8-column strips keep the writes within a few cache lines per source row.
  for (let c0 = 0; c0 < cols; c0 += 8) {
    const c1 = min(c0 + 8, cols);
    for (let r = 0; r < rows; r++) {
      const s = src + <usize>(r * cols) * 4;
      for (let c = c0; c < c1; c++) {
        store<f32>(dst + <usize>(c * dstStride + r) * 4, load<f32>(s + <usize>c * 4));
      }
    }
    for (let c = c0; c < c1; c++) {
      for (let r = rows; r < dstStride; r++) store<f32>(dst + <usize>(c * dstStride + r) * 4, 0);
    }
  }
}

/** Copies `pixels` rows of `channels` float32 from stride srcStride to stride dstStride, zero-padded. */
export function repack_f32(src: usize, pixels: i32, channels: i32, srcStride: i32, dst: usize, dstStride: i32): void {
  for (let p = 0; p < pixels; p++) {
    const d = dst + <usize>(p * dstStride) * 4;
    memory.copy(d, src + <usize>(p * srcStride) * 4, <usize>channels * 4);
    memory.fill(d + <usize>channels * 4, 0, <usize>(dstStride - channels) * 4);
  }
}

/**
 * out = clamp(acc * scale[c] + shift[c], lo, hi) for `pixels` x `channels`, reading acc at
 * src + 4 * (p * srcStride + c), writing dst + 4 * (p * dstPixStride + c * dstChanStride).
 * The host folds bias and the CDS affine into scale/shift and the activation into lo/hi.
 */
export function epilogue_f32(
  src: usize, srcStride: i32, pixels: i32, channels: i32,
  dst: usize, dstPixStride: i32, dstChanStride: i32,
  scale: usize, shift: usize, lo: f32, hi: f32,
): void {
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  if (dstChanStride == 1) {
    const c4 = channels & ~3;
    for (let p = 0; p < pixels; p++) {
      const s = src + <usize>(p * srcStride) * 4;
      const d = dst + <usize>(p * dstPixStride) * 4;
      let c = 0;
      for (; c < c4; c += 4) {
        const o = <usize>c * 4;
        const y = f32x4.add(f32x4.mul(v128.load(s + o), v128.load(scale + o)), v128.load(shift + o));
        v128.store(d + o, f32x4.pmin(f32x4.pmax(y, vlo), vhi));
      }
      for (; c < channels; c++) {
        const o = <usize>c * 4;
        const y = load<f32>(s + o) * load<f32>(scale + o) + load<f32>(shift + o);
        store<f32>(d + o, min(max(y, lo), hi));
      }
    }
  } else {
    for (let c = 0; c < channels; c++) {
      const k = load<f32>(scale + <usize>c * 4);
      const b = load<f32>(shift + <usize>c * 4);
      const d = dst + <usize>(c * dstChanStride) * 4;
      for (let p = 0; p < pixels; p++) {
        const y = load<f32>(src + <usize>(p * srcStride + c) * 4) * k + b;
        store<f32>(d + <usize>(p * dstPixStride) * 4, min(max(y, lo), hi));
      }
    }
  }
}
