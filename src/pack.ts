// Weight layouts the kernels read (see the comments in assembly/conv_q.ts, conv_f32.ts and
// dwconv.ts). Packing happens once, when a layer is made; nothing here runs per call.
import type { Geometry } from './geometry.js';
import type { BlockMode } from './quantize.js';

/** Output channels per kernel tile. */
export const TILE_N = 8;
/** Output pixels per kernel tile. */
export const TILE_M = 4;

export interface Blocks {
  blockLen: number;  // B, clipped to the group's channels
  nBlocks: number;
  paddedLen: number; // channels per block in the mantissa and weight layouts (multiple of 4)
}

export function blocks(g: Geometry, blockSize: number): Blocks {
  const blockLen = Math.min(blockSize, g.groupChannels);
  return { blockLen, nBlocks: Math.ceil(g.groupChannels / blockLen), paddedLen: Math.ceil(blockLen / 4) * 4 };
}

export function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/**
 * Weight formats of the tiled DSConv kernels (layouts in assembly/conv_q.ts and conv_q_relaxed.ts):
 * - 'dot16_q8': int8, channel pairs: 16 bytes per pair of 8 outputs;
 * - 'dot16_q4': signed nibbles, two channel pairs per 16 bytes;
 * - 'rdot_q7': uint8 q + 64, channel quads: 32 bytes per quad of 8 outputs;
 * - 'rdot_q4': nibbles q + 8, one channel quad per 16 bytes;
 * - 'dequant': int8 q in conv_4x8_f32's layout ([tile][tap][channel][8], no block padding), for
 *   blocks so short that the float kernel on dequantized values is faster (dsconv_weights_f32).
 */
export type WeightFormat = 'dot16_q8' | 'dot16_q4' | 'rdot_q7' | 'rdot_q4' | 'dequant';

/** The offset the relaxed formats add to q so that it fits the dot product's 7-bit operand. */
export function zeroPoint(format: WeightFormat): number {
  return format === 'rdot_q7' ? 64 : format === 'rdot_q4' ? 8 : 0;
}

/** Bytes of one weight block (paddedLen channels x 8 outputs) in `format`. */
function blockBytes(format: WeightFormat, paddedLen: number): number {
  return format === 'dot16_q8' || format === 'rdot_q7' ? paddedLen * 8 : paddedLen * 4;
}

/**
 * DSConv weights for the 4x8 kernels, all groups one after another: [group][tile][tap][block]
 * then the block in `format`. Also returns ξ per [group][tile][tap][block][8] (0 for padded outputs).
 */
export function packDsconv(
  g: Geometry, b: Blocks, q: Int8Array, scales: Float32Array, mode: BlockMode, format: WeightFormat,
): { weights: Uint8Array; xi: Float32Array; groupWeightBytes: number; groupXiFloats: number } {
  const taps = g.kh * g.kw;
  const nTiles = Math.ceil(g.groupOutputs / TILE_N);
  const bytes = blockBytes(format, b.paddedLen);
  const groupWeightBytes = format === 'dequant' ? nTiles * taps * g.groupChannels * 8 : nTiles * taps * b.nBlocks * bytes;
  const groupXiFloats = nTiles * taps * b.nBlocks * TILE_N;
  const weights = new Uint8Array(g.groups * groupWeightBytes);
  const xi = new Float32Array(g.groups * groupXiFloats);
  const z = zeroPoint(format);
  const cg = g.groupChannels;
  for (let grp = 0; grp < g.groups; grp++) {
    for (let k = 0; k < g.groupOutputs; k++) {
      const o = grp * g.groupOutputs + k;
      const tile = Math.floor(k / TILE_N);
      const lane = k % TILE_N;
      for (let t = 0; t < taps; t++) {
        for (let beta = 0; beta < b.nBlocks; beta++) {
          const slot = (tile * taps + t) * b.nBlocks + beta;
          const xiIndex = mode === 'taps' ? o : (o * b.nBlocks + beta) * taps + t;
          xi[grp * groupXiFloats + slot * TILE_N + lane] = scales[xiIndex];
          const base = grp * groupWeightBytes + slot * bytes;
          const len = Math.min(b.blockLen, cg - beta * b.blockLen);
          for (let c = 0; c < len; c++) {
            const v = q[(o * cg + beta * b.blockLen + c) * taps + t];
            if (format === 'dot16_q8') {
              weights[base + (c >> 1) * 16 + 2 * lane + (c & 1)] = v & 0xff;
            } else if (format === 'dot16_q4') {
              // Nibble j = 2 * (pair & 1) + (lane >= 4) of int16 lane 2 * (lane % 4) + (c & 1).
              const pair = c >> 1;
              weights[base + (pair >> 1) * 16 + 2 * (2 * (lane & 3) + (c & 1)) + (pair & 1)] |= (v & 15) << (lane >= 4 ? 4 : 0);
            } else if (format === 'dequant') {
              weights[grp * groupWeightBytes + ((tile * taps + t) * cg + beta * b.blockLen + c) * 8 + lane] = v & 0xff;
            } else if (format === 'rdot_q7') {
              weights[base + (c >> 2) * 32 + (lane >> 2) * 16 + 4 * (lane & 3) + (c & 3)] = v + z;
            } else {
              weights[base + (c >> 2) * 16 + 4 * (lane & 3) + (c & 3)] |= (v + z) << (lane >= 4 ? 4 : 0);
            }
          }
        }
      }
    }
  }
  return { weights, xi, groupWeightBytes, groupXiFloats };
}

/** Float weights for conv_4x8_f32: [group][tile][tap][channel][8]. */
export function packFloat(g: Geometry, w: Float32Array): { weights: Float32Array; groupFloats: number } {
  const taps = g.kh * g.kw;
  const cg = g.groupChannels;
  const nTiles = Math.ceil(g.groupOutputs / TILE_N);
  const groupFloats = nTiles * taps * cg * TILE_N;
  const weights = new Float32Array(g.groups * groupFloats);
  for (let grp = 0; grp < g.groups; grp++) {
    for (let k = 0; k < g.groupOutputs; k++) {
      const o = grp * g.groupOutputs + k;
      const tile = Math.floor(k / TILE_N);
      for (let t = 0; t < taps; t++) {
        for (let c = 0; c < cg; c++) {
          weights[grp * groupFloats + ((tile * taps + t) * cg + c) * TILE_N + (k % TILE_N)] = w[(o * cg + c) * taps + t];
        }
      }
    }
  }
  return { weights, groupFloats };
}

/** Depthwise weights as [tap][channel padded to 4]: OIHW with I = 1 is [channel][tap]. */
export function packDepthwise<T extends Float32Array | Int8Array>(g: Geometry, w: T, make: (n: number) => T): T {
  const taps = g.kh * g.kw;
  const cp = roundUp(g.outChannels, 4);
  const out = make(taps * cp);
  for (let c = 0; c < g.outChannels; c++) {
    for (let t = 0; t < taps; t++) out[t * cp + c] = w[c * taps + t];
  }
  return out;
}
