// The kernel table, in the spirit of XNNPACK's configs: one record per way of running a conv,
// saying which exports it calls and how its data is laid out. Layers read a record and nothing
// else about kernels; selectDsconv() and selectConv() are the only code that look at the build.
// Adding a variant means one kernel file in assembly/kernels/ and one record here.
import type { Build } from './runtime.js';
import type { ExportName } from './exports.js';
import { type Geometry, isDepthwise } from './geometry.js';

/**
 * How the integer kernels read one weight block (paddedLen channels x NR outputs); the byte
 * layouts are in the kernel files' headers:
 * - 'dot16_q8': int8, channel pairs (assembly/kernels/dsconv_igemm_4x8c2_dot16.ts);
 * - 'dot16_q4': signed nibbles, two channel pairs per 16 bytes (same file);
 * - 'rdot_q7': uint8 q + 64, channel quads (assembly/kernels/dsconv_igemm_4x8c4_rdot.ts);
 * - 'rdot_q4': nibbles q + 8, one channel quad per 16 bytes (same file).
 */
export type IntPacking = 'dot16_q8' | 'dot16_q4' | 'rdot_q7' | 'rdot_q4';

/** The BFP image an integer kernel reads: the pass that writes it and its element sizes. */
export interface BfpLayout {
  pass: Extract<ExportName, 'bfp_quantize_i16' | 'bfp_quantize_i8'>;
  /** Bytes per mantissa. */
  mantBytes: 1 | 2;
  /** Bytes per block record: f32 scale, then (i8 layout) the i32 -z·ΣM the kernel starts from. */
  recordBytes: 4 | 8;
}

const BFP_I16: BfpLayout = { pass: 'bfp_quantize_i16', mantBytes: 2, recordBytes: 4 };
const BFP_I8: BfpLayout = { pass: 'bfp_quantize_i8', mantBytes: 1, recordBytes: 8 };

/** Integer DSConv: BFP mantissas times packed VQK, exact int32 block sums, one rescale per block. */
export interface IgemmRecord {
  path: 'igemm';
  kernel: Extract<ExportName, `dsconv_igemm_${string}`>;
  /** Builds whose module has the kernel. */
  builds: readonly Build[];
  /** Weight bits it takes, inclusive. */
  bits: readonly [number, number];
  /** Tile: output pixels x output channels, and input channels per dot step. */
  mr: 4;
  nr: 8;
  kc: 2 | 4;
  packing: IntPacking;
  /** Offset added to q at rest so that it fits the dot product's unsigned operand (0: none). */
  zeroPoint: number;
  /** Bytes one block channel of NR outputs takes at rest. */
  packedBytesPerChannel: 4 | 8;
  /** Scratch bytes per (tap, block channel) to widen one tile of weights into (0: read as packed). */
  wideBytesPerChannel: 0 | 8 | 16;
  bfp: BfpLayout;
}

/**
 * DSConv on blocks of at most 4 channels (an RGB stem, B <= 4): there the integer kernels do one
 * or two dot steps per float rescale, and the float kernel on exactly dequantized values is
 * about twice as fast (docs/ARITHMETIC.md allows any evaluation order up to float32 rounding of
 * the sums).
 */
export interface DequantRecord {
  path: 'dequant';
  kernel: 'f32_igemm_4x8';
  /** Forms ξ·q as float32 per call, into f32_igemm_4x8's layout. */
  weights: 'dsconv_dequant_4x8';
  bfp: 'bfp_dequant';
  builds: readonly Build[];
  mr: 4;
  nr: 8;
  /** Taken when a block holds at most this many (padded) channels. */
  maxPaddedLen: 4;
}

/**
 * Depthwise DSConv: one-channel blocks, dequantized exactly (as bfloat16, which holds them), through
 * the float depthwise kernel.
 */
export interface DepthwiseRecord {
  path: 'depthwise';
  kernel: 'f32_dwconv_1x16_bf16';
  weights: 'dsconv_dequant_dw';
  bfp: 'bfp_dequant_c1_bf16';
  builds: readonly Build[];
  mr: 1;
  /** Channels are the SIMD lanes: padded to a multiple of this. */
  channelMultiple: 4;
}

/** The float32 baseline's kernels (Conv2d). */
export interface FloatRecord {
  path: 'f32-igemm' | 'f32-dwconv';
  kernel: Extract<ExportName, 'f32_igemm_4x8' | 'f32_dwconv_1x16'>;
  builds: readonly Build[];
  mr: 1 | 4;
  nr: 1 | 8;
  channelMultiple: 1 | 4;
}

export type DsconvRecord = IgemmRecord | DequantRecord | DepthwiseRecord;

const BOTH: readonly Build[] = ['simd', 'relaxed'];

/** DSConv records, in order of preference: selectDsconv() takes the first that fits. */
export const DSCONV_TABLE: readonly DsconvRecord[] = [
  { path: 'depthwise', kernel: 'f32_dwconv_1x16_bf16', weights: 'dsconv_dequant_dw', bfp: 'bfp_dequant_c1_bf16', builds: BOTH, mr: 1, channelMultiple: 4 },
  { path: 'dequant', kernel: 'f32_igemm_4x8', weights: 'dsconv_dequant_4x8', bfp: 'bfp_dequant', builds: BOTH, mr: 4, nr: 8, maxPaddedLen: 4 },
  {
    path: 'igemm', kernel: 'dsconv_igemm_4x8c4_rdot_q4', builds: ['relaxed'], bits: [2, 4], mr: 4, nr: 8, kc: 4,
    packing: 'rdot_q4', zeroPoint: 8, packedBytesPerChannel: 4, wideBytesPerChannel: 8, bfp: BFP_I8,
  },
  {
    path: 'igemm', kernel: 'dsconv_igemm_4x8c4_rdot_q7', builds: ['relaxed'], bits: [5, 7], mr: 4, nr: 8, kc: 4,
    packing: 'rdot_q7', zeroPoint: 64, packedBytesPerChannel: 8, wideBytesPerChannel: 0, bfp: BFP_I8,
  },
  {
    path: 'igemm', kernel: 'dsconv_igemm_4x8c2_dot16_q4', builds: BOTH, bits: [2, 4], mr: 4, nr: 8, kc: 2,
    packing: 'dot16_q4', zeroPoint: 0, packedBytesPerChannel: 4, wideBytesPerChannel: 16, bfp: BFP_I16,
  },
  {
    path: 'igemm', kernel: 'dsconv_igemm_4x8c2_dot16_q8', builds: BOTH, bits: [5, 8], mr: 4, nr: 8, kc: 2,
    packing: 'dot16_q8', zeroPoint: 0, packedBytesPerChannel: 8, wideBytesPerChannel: 16, bfp: BFP_I16,
  },
];

/** Float records: depthwise first, then the tiled kernel. */
export const FLOAT_TABLE: readonly FloatRecord[] = [
  { path: 'f32-dwconv', kernel: 'f32_dwconv_1x16', builds: BOTH, mr: 1, nr: 1, channelMultiple: 4 },
  { path: 'f32-igemm', kernel: 'f32_igemm_4x8', builds: BOTH, mr: 4, nr: 8, channelMultiple: 1 },
];

/**
 * Whether `r` can run a DSConv layer of geometry g, weight bits and block channels (padded).
 * Preference is the table's order (the dequantized path comes before the integer ones).
 */
export function dsconvFits(r: DsconvRecord, g: Geometry, bits: number, paddedLen: number): boolean {
  if (r.path === 'depthwise') return isDepthwise(g);
  if (isDepthwise(g)) return false;
  if (r.path === 'dequant') return paddedLen <= r.maxPaddedLen;
  return bits >= r.bits[0] && bits <= r.bits[1];
}

/** The record a DSConv layer runs on `build`: the first in DSCONV_TABLE that has it and fits. */
export function selectDsconv(build: Build, g: Geometry, bits: number, paddedLen: number): DsconvRecord {
  const r = DSCONV_TABLE.find((c) => c.builds.includes(build) && dsconvFits(c, g, bits, paddedLen));
  if (!r) throw new Error(`dsconv internal: no kernel for a ${bits}-bit layer with ${paddedLen}-channel blocks on the ${build} build`);
  return r;
}

/** The record a float Conv2d runs. */
export function selectConv(build: Build, g: Geometry): FloatRecord {
  const r = FLOAT_TABLE.find((c) => c.builds.includes(build) && (c.path === 'f32-dwconv') === isDepthwise(g));
  return r!;
}
