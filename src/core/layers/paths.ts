// The execution path of each kernel-table record: the one place a record's kind becomes a class.
import type { Geometry } from '../geometry.js';
import type { DsconvRecord, FloatRecord } from '../kernel-table.js';
import type { Quantization } from '../options.js';
import { blocks } from '../pack.js';
import type { ConvPath, Keep } from './path.js';
import { IgemmPath } from './igemm-path.js';
import { DequantPath } from './dequant-path.js';
import { DepthwisePath } from './depthwise-path.js';
import { F32DwconvPath, F32IgemmPath } from './f32-paths.js';

/** A DSConv layer's path for `rec`, over its VQK and KDS (packed here, kept through `keep`). */
export function dsconvPath(rec: DsconvRecord, g: Geometry, qz: Omit<Quantization, 'nBlocks'>, q: Int8Array, scales: Float32Array, keep: Keep): ConvPath {
  switch (rec.path) {
    case 'depthwise': return new DepthwisePath(g, qz.mantissaBits, rec, q, scales, qz.blockMode, keep);
    case 'dequant': return new DequantPath(g, blocks(g, qz.blockSize), qz.mantissaBits, rec, q, scales, qz.blockMode, keep);
    case 'igemm': return new IgemmPath(g, blocks(g, qz.blockSize), qz.mantissaBits, rec, q, scales, qz.blockMode, keep);
  }
}

/** A float Conv2d's path for `rec`, over its float32 OIHW weights. */
export function floatPath(rec: FloatRecord, g: Geometry, weights: Float32Array, keep: Keep): ConvPath {
  return rec.path === 'f32-dwconv' ? new F32DwconvPath(g, rec, weights, keep) : new F32IgemmPath(g, rec, weights, keep);
}
