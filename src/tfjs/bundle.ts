// The quantized-model bundle (.dsq): every conv's VQK, KDS, CDS and settings, so a model can be
// run through the plug-in with no requantization or recalibration. Layout (little-endian):
// magic "DSQB", format version, JSON header length, JSON header (padded to 4 bytes), payload
// (packed VQK, float32 KDS/CDS), CRC-32 of everything before it. Each layer also records a
// CRC-32 of its float weights, so a bundle is refused by a model whose weights differ even when
// the shapes agree. Version 2 adds the BatchNorm fold: a layer marked `foldedBatchNorm` carries
// the folded bias (its KDS already holds the BN's scale); version 1 bundles still read.
import { packInts, unpackInts, packedWeightBytes } from '../core/quantize.js';
import { crc32 } from '../core/crc32.js';
import type { QuantSettings } from '../core/options.js';

const MAGIC = 0x42515344; // "DSQB" read as a little-endian u32
export const BUNDLE_VERSION = 2;

export interface BundleLayer {
  index: number;
  name?: string;
  kind: 'conv' | 'depthwise';
  filterShape: number[];
  /** CRC-32 of the float32 OIHW weights the layer was quantized from. */
  weightsCrc: number;
  /** null: the layer is kept float. */
  settings: QuantSettings | null;
  q?: Int8Array;
  scales?: Float32Array;
  gamma?: Float32Array;
  delta?: Float32Array;
  /**
   * The BatchNormalization after this conv is folded into it: `scales` hold its per-channel
   * scale s, `bias` is s·b + t, and the plug-in makes that BN an identity. Quantized layers only.
   */
  foldedBatchNorm?: true;
  bias?: Float32Array;
}

/** BundleLayer.weightsCrc of float32 OIHW weights. */
export function weightsCrc(w: Float32Array): number {
  return crc32(new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
}

/** Whether two filter shapes are the same (how bundle layers are matched to a model's). */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export interface Bundle {
  layers: BundleLayer[];
  /** Free-form provenance (model path, calibration count...). */
  meta: Record<string, unknown>;
}

interface HeaderLayer extends Omit<BundleLayer, 'q' | 'scales' | 'gamma' | 'delta' | 'bias'> {
  /** [byte offset, count] into the payload. */
  q?: [number, number];
  scales?: [number, number];
  gamma?: [number, number];
  delta?: [number, number];
  bias?: [number, number];
}

export function encodeBundle(bundle: Bundle): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  const put = (bytes: Uint8Array, count: number): [number, number] => {
    const pos = at;
    const padded = new Uint8Array((bytes.length + 3) & ~3);
    padded.set(bytes);
    parts.push(padded);
    at += padded.length;
    return [pos, count];
  };
  const f32 = (a: Float32Array) => {
    const b = new Uint8Array(a.length * 4);
    const v = new DataView(b.buffer);
    a.forEach((x, i) => v.setFloat32(i * 4, x, true));
    return put(b, a.length);
  };
  const layers: HeaderLayer[] = bundle.layers.map((l) => {
    const h: HeaderLayer = { index: l.index, kind: l.kind, filterShape: l.filterShape, weightsCrc: l.weightsCrc, settings: l.settings };
    if (l.name !== undefined) h.name = l.name;
    if (l.settings && l.q && l.scales) {
      h.q = put(packInts(l.q, l.settings.bits), l.q.length);
      h.scales = f32(l.scales);
      if (l.gamma) h.gamma = f32(l.gamma);
      if (l.delta) h.delta = f32(l.delta);
      if (l.foldedBatchNorm) {
        if (!l.bias) throw new RangeError(`bundle layer ${l.index} is marked foldedBatchNorm but has no bias`);
        h.foldedBatchNorm = true;
        h.bias = f32(l.bias);
      }
    }
    return h;
  });
  const json = new TextEncoder().encode(JSON.stringify({ meta: bundle.meta, layers }));
  const jsonLen = (json.length + 3) & ~3;
  const out = new Uint8Array(12 + jsonLen + at + 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, BUNDLE_VERSION, true);
  view.setUint32(8, json.length, true);
  out.fill(0x20, 12 + json.length, 12 + jsonLen); // JSON whitespace padding
  out.set(json, 12);
  let p = 12 + jsonLen;
  for (const part of parts) { out.set(part, p); p += part.length; }
  view.setUint32(p, crc32(out.subarray(0, p)), true);
  return out;
}

/** Parses and checks a bundle; a truncated, corrupt or foreign blob is a RangeError. */
export function decodeBundle(bytes: unknown): Bundle {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`bundle must be a Uint8Array (a .dsq file), got ${typeof bytes}`);
  if (bytes.length < 16) throw new RangeError(`bundle is truncated: ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new RangeError('bundle is not a dsconv model bundle (bad magic; expected "DSQB")');
  const version = view.getUint32(4, true);
  if (version < 1 || version > BUNDLE_VERSION) throw new RangeError(`bundle has format version ${version}; this dsconv reads versions 1 to ${BUNDLE_VERSION}`);
  const end = bytes.length - 4;
  if (crc32(bytes.subarray(0, end)) !== view.getUint32(end, true)) throw new RangeError('bundle is corrupt: CRC-32 checksum mismatch');
  const jsonLen = view.getUint32(8, true);
  const payload = 12 + ((jsonLen + 3) & ~3);
  if (payload > end) throw new RangeError('bundle is corrupt: header longer than the file');
  let head: { meta: Record<string, unknown>; layers: HeaderLayer[] };
  try {
    head = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + jsonLen)));
  } catch {
    throw new RangeError('bundle is corrupt: unreadable header');
  }
  const slice = (r: [number, number] | undefined, len: number) => {
    if (!r) return undefined;
    const s = payload + r[0];
    if (!Number.isInteger(r[0]) || r[0] < 0 || s + len > end) throw new RangeError('bundle is corrupt: a layer points outside the payload');
    return bytes.subarray(s, s + len);
  };
  const floats = (r: [number, number] | undefined) => {
    const b = slice(r, r ? r[1] * 4 : 0);
    if (!b) return undefined;
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return Float32Array.from({ length: r![1] }, (_, i) => v.getFloat32(i * 4, true));
  };
  const layers = head.layers.map((h): BundleLayer => {
    const l: BundleLayer = { index: h.index, kind: h.kind, filterShape: h.filterShape, weightsCrc: h.weightsCrc, settings: h.settings };
    if (h.name !== undefined) l.name = h.name;
    if (h.settings) {
      const count = h.filterShape.reduce((a, b) => a * b, 1);
      if (!h.q || h.q[1] !== count) throw new RangeError(`bundle is corrupt: layer ${h.index} has ${h.q?.[1]} weights for filter ${JSON.stringify(h.filterShape)}`);
      l.q = unpackInts(slice(h.q, packedWeightBytes(count, h.settings.bits))!, count, h.settings.bits);
      l.scales = floats(h.scales);
      l.gamma = floats(h.gamma);
      l.delta = floats(h.delta);
      if (h.foldedBatchNorm === true) {
        const out = h.kind === 'depthwise' ? h.filterShape[2] * h.filterShape[3] : h.filterShape[3];
        if (!h.bias || h.bias[1] !== out) throw new RangeError(`bundle is corrupt: layer ${h.index} is folded with a BatchNorm but has ${h.bias?.[1]} bias values for ${out} channels`);
        l.foldedBatchNorm = true;
        l.bias = floats(h.bias);
      }
    }
    return l;
  });
  return { meta: head.meta ?? {}, layers };
}
