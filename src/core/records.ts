// The fields of a BFP record that every pass shares, written in one place (core/abi.ts has the
// layout). Callers add the destination fields of their pass.
import { BfpParam } from './abi.js';

/** Fills a zeroed BfpParam record `q` over `pixels` NHWC pixels at `src` (pixel stride `srcStride` floats). */
export function bfpRecord(q: Int32Array, src: number, pixels: number, srcStride: number, groups: number, groupChannels: number,
  blockLen: number, nBlocks: number, mantissaBits: number): Int32Array {
  q[BfpParam.src] = src; q[BfpParam.pixels] = pixels; q[BfpParam.srcStride] = srcStride;
  q[BfpParam.groups] = groups; q[BfpParam.groupChannels] = groupChannels;
  q[BfpParam.blockLen] = blockLen; q[BfpParam.nBlocks] = nBlocks; q[BfpParam.mantissaBits] = mantissaBits;
  return q;
}
