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

// Transposes the 4x4 float32 block whose rows are a, b, c, d; the columns land in a, b, c, d.
// @ts-ignore: decorator
@inline function transpose4(p: usize, a: v128, b: v128, c: v128, d: v128, stride: usize): void {
  const ab0 = v128.shuffle<f32>(a, b, 0, 4, 1, 5);
  const ab1 = v128.shuffle<f32>(a, b, 2, 6, 3, 7);
  const cd0 = v128.shuffle<f32>(c, d, 0, 4, 1, 5);
  const cd1 = v128.shuffle<f32>(c, d, 2, 6, 3, 7);
  v128.store(p, v128.shuffle<f32>(ab0, cd0, 0, 1, 4, 5));
  v128.store(p + stride, v128.shuffle<f32>(ab0, cd0, 2, 3, 6, 7));
  v128.store(p + 2 * stride, v128.shuffle<f32>(ab1, cd1, 0, 1, 4, 5));
  v128.store(p + 3 * stride, v128.shuffle<f32>(ab1, cd1, 2, 3, 6, 7));
}

/**
 * Copies a [rows][cols] float32 matrix to dst transposed: element (r, c) to dst[c * dstStride + r],
 * zeroing dst[c * dstStride + rows .. (c+1) * dstStride]. NCHW -> NHWC with rows = C, cols = H*W.
 */
export function transpose_f32(src: usize, rows: i32, cols: i32, dst: usize, dstStride: i32): void {
  const rs = <usize>cols * 4;
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
    let c0 = 0;
    if (dstPixStride == 1) {
      // NCHW: 4 pixels x 4 channels at a time, transposed in registers.
      const c4 = channels & ~3;
      const p4 = pixels & ~3;
      const ss = <usize>srcStride * 4;
      const ds = <usize>dstChanStride * 4;
      for (; c0 < c4; c0 += 4) {
        const o = <usize>c0 * 4;
        const k = v128.load(scale + o);
        const b = v128.load(shift + o);
        for (let p = 0; p < p4; p += 4) {
          const s = src + <usize>p * ss + o;
          const y0 = f32x4.pmin(f32x4.pmax(f32x4.add(f32x4.mul(v128.load(s), k), b), vlo), vhi);
          const y1 = f32x4.pmin(f32x4.pmax(f32x4.add(f32x4.mul(v128.load(s + ss), k), b), vlo), vhi);
          const y2 = f32x4.pmin(f32x4.pmax(f32x4.add(f32x4.mul(v128.load(s + 2 * ss), k), b), vlo), vhi);
          const y3 = f32x4.pmin(f32x4.pmax(f32x4.add(f32x4.mul(v128.load(s + 3 * ss), k), b), vlo), vhi);
          transpose4(dst + <usize>c0 * ds + <usize>p * 4, y0, y1, y2, y3, ds);
        }
        for (let c = c0; c < c0 + 4; c++) {
          const kc = load<f32>(scale + <usize>c * 4);
          const bc = load<f32>(shift + <usize>c * 4);
          for (let p = p4; p < pixels; p++) {
            const y = load<f32>(src + <usize>(p * srcStride + c) * 4) * kc + bc;
            store<f32>(dst + <usize>(c * dstChanStride + p) * 4, min(max(y, lo), hi));
          }
        }
      }
    }
    for (let c = c0; c < channels; c++) {
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
