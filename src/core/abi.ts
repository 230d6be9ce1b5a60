// The kernel ABI: the parameter records the host writes into wasm memory and the kernels read.
// This one file is compiled twice, by AssemblyScript into the kernels (through assembly/params.ts)
// and by tsc into the host (core/layers/ writes the records), so the two sides cannot disagree on
// where a field is. A record is a run of 32-bit slots, one per member, in member order; a slot holds an i32
// (byte offsets, counts, strides in elements) unless its comment says f32. Plain numeric enums
// only, with no initialisers: both compilers number their members alike. Each enum ends with
// `count`, the record's length in slots.

/** The convolution micro-kernels: dsconv_igemm_*, f32_igemm_4x8, f32_dwconv_1x16 (and _bf16). */
export enum ConvParam {
  /** [npix][taps] input pixel indices (i32), -1 where a tap reads padding. */
  indirection,
  /** Output pixels; a multiple of the kernel's MR. */
  npix,
  taps,
  /** Input pixel idx is at input + elementBytes * idx * inputStride. */
  input,
  inputStride,
  /** What a padded tap reads instead of a pixel (zeros). */
  zeroInput,
  /** BFP block records of the input (dsconv), pixel idx at scale + recordBytes * idx * scaleStride. */
  scale,
  scaleStride,
  zeroScale,
  /** Input channels per group (f32 kernels). */
  channels,
  /** Blocks per group and channels per block as laid out (dsconv). */
  nBlocks,
  paddedLen,
  weights,
  /** Block scales ξ (dsconv). */
  xi,
  /** Tiles of NR output channels. */
  nTiles,
  output,
  outputStride,
  /** Scratch for one tile of widened weights (dsconv formats that widen). */
  wide,
  /**
   * The tiled and depthwise kernels: per-channel scale and shift (0: none), from the
   * call's first channel. When set, the kernel writes clamp(sum * scale[c] + shift[c], lo, hi),
   * the epilogue itself, instead of the sums.
   */
  epiScale,
  epiShift,
  /** f32 */
  lo,
  /** f32 */
  hi,
  count,
}

/** The BFP passes: bfp_quantize_i16, bfp_quantize_i8, bfp_dequant, bfp_dequant_c1_bf16. */
export enum BfpParam {
  /** NHWC float32 input, pixel p at src + 4 * p * srcStride. */
  src,
  pixels,
  srcStride,
  groups,
  groupChannels,
  /** B clipped to the group; the last block of a group may be shorter. */
  blockLen,
  nBlocks,
  mantissaBits,
  /** Mantissas (quantize) or dequantized float32 (dequant), pixel p at dst + elementBytes * p * dstStride. */
  dst,
  dstStride,
  /** Mantissa slots per block, zero beyond the block (quantize). */
  paddedLen,
  /** Block records (quantize). */
  scale,
  /** Multiplier of each block's mantissa sum in the int8 records (bfp_quantize_i8). */
  sumScale,
  count,
}

/** f32_epilogue: out = clamp(acc * scale[c] + shift[c], lo, hi). */
export enum EpilogueParam {
  src,
  srcStride,
  pixels,
  channels,
  dst,
  dstPixStride,
  dstChanStride,
  scale,
  shift,
  /** f32 */
  lo,
  /** f32 */
  hi,
  count,
}

/**
 * f64_gemm_4x4: C += Aᵀ·B in float64 over `len` samples, for each of `groups` independent
 * products (calibration's Gram sums). A and B are in panels: a matrix of r variables over len
 * samples is [ceil(r/4)][len][4] float64, the four variables of a panel side by side per sample,
 * zero past r. C is [groups][m][n] float64.
 */
export enum GemmParam {
  a,
  b,
  c,
  len,
  m,
  n,
  /** The units this call runs, [u0, u1): unit u is row panel u % ceil(m/4) of group u / ceil(m/4) (threads split them). */
  u0,
  u1,
  /** 1: B is A and only the tiles on or right of the diagonal run (the upper triangle of a Gram matrix). */
  upper,
  count,
}

/**
 * f64_quadform_4x4: per output channel o, G[a][b] = Σ_(i in block a, j in block b) q_i·H_ij·q_j
 * (calibration's scale refit), H the channel's group's D x D float64 Gram matrix (whole: both
 * triangles), q its integers as float64 in H's column order, blocks the runs of columns sharing
 * a scale.
 */
export enum QuadformParam {
  /** [groups][D][D] float64; channel o reads group o / og. */
  h,
  /** [channels][D] float64. */
  q,
  /** [nRuns][3] i32: start and end column, scale; each scale has one run. */
  runs,
  nRuns,
  /** [D] i32: the scale of each column. */
  scaleOf,
  d,
  k,
  og,
  /** [channels][k][k] float64, written whole. */
  g,
  /** The channels this call runs, [c0, c1) (threads split them). */
  c0,
  c1,
  count,
}

/**
 * f64_rank_update_4x4: GPTQ's lazy update, W[r][m] −= Σ_b E[r][b]·U[j0+b][m] for rows [r0, r1)
 * and columns m in [j1, d), b ascending in [0, nb), float64. W is rows x d, U d x d, E rows x
 * eStride, all row-major.
 */
export enum UpdateParam {
  w,
  e,
  u,
  d,
  eStride,
  j0,
  nb,
  j1,
  r0,
  r1,
  count,
}

/**
 * f64_cholesky_4x4 and f64_cholesky_inverse_4x4 (calibration's factorisation). With N = n rounded
 * up to a multiple of 4, `l` holds an N x N matrix in row panels: rows 4p..4p+3 are panel p, of N
 * columns, entry (i, k) the float64 at index (⌊i/4⌋·N + k)·4 + i % 4 (the four rows of a column
 * side by side). Rows and columns past n are the identity's, so the factor and the inverse need no
 * edges. Only entries on or below the diagonal are read.
 */
export enum CholeskyParam {
  /** The matrix, replaced by its lower Cholesky factor (the inverse reads that factor). */
  l,
  n,
  /** The inverse's working space, N x N float64: L⁻¹ in column panels, entry (r, c) at (⌊c/4⌋·N + r)·4 + c % 4. */
  x,
  /** The inverse's output, n x n row-major: U = J L⁻¹ J, J the reversal (on one thread it may be l: written last). */
  u,
  /** The columns this call runs, [j0, j1), multiples of 4 (threads split them). */
  j0,
  j1,
  /** The factor's rows, [r0, r1), multiples of 4: a block's rows below its diagonal split over threads. */
  r0,
  r1,
  count,
}
