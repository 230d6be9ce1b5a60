// Weight layouts the kernels read (byte layouts in the headers of assembly/kernels/*.ts; which
// layout a layer uses is its kernel-table record). Packing happens once, when a layer is made;
// nothing here runs per call.
import type { Geometry } from './geometry.js';
import type { BlockMode } from './options.js';
import type { IgemmRecord, IntPacking } from './kernel-table.js';

/** Output channels per tile: every tiled record has nr = 8, and the layouts below assume it. */
const NR = 8;

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

/** Packed DSConv weights of all groups, one after another, and ξ per [group][tile][tap][block][8]. */
export interface PackedDsconv {
  weights: Uint8Array;
  xi: Float32Array;
  groupWeightBytes: number;
  groupXiFloats: number;
}

/**
 * Stores q (already offset by the zero point) of block channel c and output lane `lane` into the
 * block at `base`, in one integer packing.
 */
const PLACE: Record<IntPacking, (w: Uint8Array, base: number, c: number, lane: number, v: number) => void> = {
  dot16_q8: (w, base, c, lane, v) => { w[base + (c >> 1) * 16 + 2 * lane + (c & 1)] = v & 0xff; },
  // Nibble j = 2 * (pair & 1) + (lane >= 4) of int16 lane 2 * (lane % 4) + (c & 1).
  dot16_q4: (w, base, c, lane, v) => {
    const pair = c >> 1;
    w[base + (pair >> 1) * 16 + 2 * (2 * (lane & 3) + (c & 1)) + (pair & 1)] |= (v & 15) << (lane >= 4 ? 4 : 0);
  },
  rdot_q7: (w, base, c, lane, v) => { w[base + (c >> 2) * 32 + (lane >> 2) * 16 + 4 * (lane & 3) + (c & 3)] = v; },
  rdot_q4: (w, base, c, lane, v) => { w[base + (c >> 2) * 16 + 4 * (lane & 3) + (c & 3)] |= v << (lane >= 4 ? 4 : 0); },
};

/**
 * The walk both tiled DSConv layouts share: ξ into [group][tile][tap][block][8] (0 for padded
 * outputs), and each weight handed to `put` with its group's base, its (tile, tap, block) slot,
 * its channel in the group and in the block, and its output lane.
 */
function packTiled(
  g: Geometry, b: Blocks, q: Int8Array, scales: Float32Array, mode: BlockMode, groupWeightBytes: number,
  put: (w: Uint8Array, base: number, slot: number, tile: number, tap: number, channel: number, c: number, lane: number, v: number) => void,
): PackedDsconv {
  const taps = g.kh * g.kw;
  const nTiles = Math.ceil(g.groupOutputs / NR);
  const groupXiFloats = nTiles * taps * b.nBlocks * NR;
  const weights = new Uint8Array(g.groups * groupWeightBytes);
  const xi = new Float32Array(g.groups * groupXiFloats);
  const cg = g.groupChannels;
  for (let grp = 0; grp < g.groups; grp++) {
    for (let k = 0; k < g.groupOutputs; k++) {
      const o = grp * g.groupOutputs + k;
      const tile = Math.floor(k / NR);
      const lane = k % NR;
      for (let t = 0; t < taps; t++) {
        for (let beta = 0; beta < b.nBlocks; beta++) {
          const slot = (tile * taps + t) * b.nBlocks + beta;
          xi[grp * groupXiFloats + slot * NR + lane] = scales[mode === 'taps' ? o : (o * b.nBlocks + beta) * taps + t];
          const len = Math.min(b.blockLen, cg - beta * b.blockLen);
          for (let c = 0; c < len; c++) {
            const channel = beta * b.blockLen + c;
            put(weights, grp * groupWeightBytes, slot, tile, t, channel, c, lane, q[(o * cg + channel) * taps + t]);
          }
        }
      }
    }
  }
  return { weights, xi, groupWeightBytes, groupXiFloats };
}

/** DSConv weights for an integer record: [group][tile][tap][block], each block in its packing. */
export function packIgemm(g: Geometry, b: Blocks, q: Int8Array, scales: Float32Array, mode: BlockMode, rec: IgemmRecord): PackedDsconv {
  const blockBytes = b.paddedLen * rec.packedBytesPerChannel;
  const groupBytes = Math.ceil(g.groupOutputs / NR) * g.kh * g.kw * b.nBlocks * blockBytes;
  const place = PLACE[rec.packing];
  const z = rec.zeroPoint;
  return packTiled(g, b, q, scales, mode, groupBytes, (w, base, slot, _tile, _tap, _channel, c, lane, v) => place(w, base + slot * blockBytes, c, lane, v + z));
}

/**
 * DSConv weights for the dequantized record: int8 q in f32_igemm_4x8's layout
 * ([group][tile][tap][channel][8], no block padding), turned into ξ·q per call.
 */
export function packDequant(g: Geometry, b: Blocks, q: Int8Array, scales: Float32Array, mode: BlockMode): PackedDsconv {
  const taps = g.kh * g.kw;
  const cg = g.groupChannels;
  const groupBytes = Math.ceil(g.groupOutputs / NR) * taps * cg * NR;
  return packTiled(g, b, q, scales, mode, groupBytes, (w, base, _slot, tile, tap, channel, _c, lane, v) => {
    w[base + ((tile * taps + tap) * cg + channel) * NR + lane] = v & 0xff;
  });
}

/** Float weights for f32_igemm_4x8: [group][tile][tap][channel][8]. */
export function packFloat(g: Geometry, w: Float32Array): { weights: Float32Array; groupFloats: number } {
  const taps = g.kh * g.kw;
  const cg = g.groupChannels;
  const nTiles = Math.ceil(g.groupOutputs / NR);
  const groupFloats = nTiles * taps * cg * NR;
  const weights = new Float32Array(g.groups * groupFloats);
  for (let grp = 0; grp < g.groups; grp++) {
    for (let k = 0; k < g.groupOutputs; k++) {
      const o = grp * g.groupOutputs + k;
      const tile = Math.floor(k / NR);
      for (let t = 0; t < taps; t++) {
        for (let c = 0; c < cg; c++) {
          weights[grp * groupFloats + ((tile * taps + t) * cg + c) * NR + (k % NR)] = w[(o * cg + c) * taps + t];
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
