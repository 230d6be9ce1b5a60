// The kernel ABI: the parameter records the host writes into wasm memory and the kernels read.
// This one file is compiled twice, by AssemblyScript into the kernels (through assembly/params.ts)
// and by tsc into the host (core/layers/ writes the records), so the two sides cannot disagree on
// where a field is. A record is a run of 32-bit slots, one per member, in member order; a slot holds an i32
// (byte offsets, counts, strides in elements) unless its comment says f32. Plain numeric enums
// only, with no initialisers: both compilers number their members alike. Each enum ends with
// `count`, the record's length in slots.

/** The convolution micro-kernels: dsconv_igemm_*, f32_igemm_4x8, f32_dwconv_1x16. */
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
   * f32_dwconv_1x16 only: per-channel scale and shift (0: none). When set, the kernel writes
   * clamp(sum * scale[c] + shift[c], lo, hi), the epilogue itself, instead of the sums.
   */
  epiScale,
  epiShift,
  /** f32 */
  lo,
  /** f32 */
  hi,
  count,
}

/** The BFP passes: bfp_quantize_i16, bfp_quantize_i8, bfp_dequant, bfp_dequant_c1. */
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
