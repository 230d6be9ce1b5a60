// The standalone quantized model (.dsqm): one file holding a TF.js model's topology, its non-conv
// weights as stored, and every quantized conv as the bundle's packed VQK, KDS (+ CDS), so the
// model loads with no float conv weights. Layout (little-endian): magic "DSQM", format version,
// part count, then per part its tag, byte offset, byte length and CRC-32, then a CRC-32 of all
// that (the header); then the parts, each at a 4-byte aligned offset:
//   'model'   (MODL) JSON: the model.json fields (format, modelTopology, signature, ...) and the
//             weight specs in their original order, each quantized conv's marked `dsconv: true`;
//   'weights' (WGHT) the other weights' bytes as stored (float32, or uint8/uint16/float16
//             quantized as the model ships them), in spec order;
//   'convs'   (CONV) a .dsq bundle (bundle.ts) whose weight CRCs are those of the dequantized
//             convs, the float weights tfjs holds once the artifact is loaded.
// Browser-safe and pure: no tfjs, no Node.
import { crc32 } from '../core/crc32.js';
import { concatBytes } from '../core/bytes.js';
import { describe } from '../core/validate.js';
import { decodeBundle, encodeBundle, sameShape, weightsCrc, type Bundle, type BundleLayer } from './bundle.js';
import { fromOIHW, toOIHW } from './adapters.js';

const MAGIC = 0x4d515344; // "DSQM" read as a little-endian u32
export const ARTIFACT_VERSION = 1;

// The parts of version 1, in file order: tag (4 ASCII bytes read as a little-endian u32) and name.
const PARTS = [['MODL', 'model'], ['WGHT', 'weights'], ['CONV', 'convs']] as const;
type PartName = typeof PARTS[number][1];
const tagOf = (s: string) => s.charCodeAt(0) | s.charCodeAt(1) << 8 | s.charCodeAt(2) << 16 | s.charCodeAt(3) << 24;
const HEADER = 12 + 16 * PARTS.length + 4;

/**
 * One weight of a model.json's weightsManifest, typed as tfjs's WeightsManifestEntry so that tfjs's
 * IOHandler type accepts the artifacts decodeArtifact gives.
 */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool' | 'string' | 'complex64';
  quantization?: { dtype: 'uint16' | 'uint8' | 'float16'; scale?: number; min?: number };
  group?: 'model' | 'optimizer';
}

/**
 * tfjs's ModelArtifacts, what `fileIO(path).load()` or an IOHandler gives: the fields named here,
 * and the others model.json may have (signature, userDefinedMetadata, modelInitializer...), kept
 * as they are.
 */
export interface ModelArtifactsLike {
  modelTopology: object;
  weightSpecs: WeightSpec[];
  weightData: ArrayBuffer | ArrayBuffer[];
  format?: string;
}

/** The 'model' part. */
interface StoredModel {
  modelTopology: object;
  format?: string;
  weightSpecs: (WeightSpec & { dsconv?: boolean })[];
  [field: string]: unknown;
}

export interface DecodedArtifact {
  format: 'layers-model' | 'graph-model';
  /** What `tf.loadLayersModel` / `tf.loadGraphModel` take from an IOHandler; the convs dequantized to float32. */
  artifacts: ModelArtifactsLike & { weightData: ArrayBuffer };
  /** The .dsq bundle of the convs, for `useDSConv(tf, { bundle, model })`. */
  bundle: Uint8Array;
  /** The bundle's provenance (settings, calibration...). */
  meta: Record<string, unknown>;
  /** Bytes of each part in the file. */
  sizes: Record<PartName, number>;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

/** Bytes a weight takes as stored. */
function storedBytes(spec: WeightSpec, where: string): number {
  const dtype = spec.quantization ? spec.quantization.dtype : spec.dtype;
  const per = BYTES[dtype];
  if (per === undefined) throw new RangeError(`${where}: weight ${JSON.stringify(spec.name)} has dtype ${dtype}; artifacts hold numeric weights (float32, int32, bool, complex64, or uint8/uint16/float16-quantized)`);
  return spec.shape.reduce((a, b) => a * b, 1) * per;
}

/** A conv weight's float32 values as tfjs decodes them (v * scale + min, rounded to float32, for uint8/uint16). */
function floatValues(spec: WeightSpec, bytes: Uint8Array): Float32Array {
  const q = spec.quantization;
  const copy = bytes.slice(); // aligned
  if (!q) return new Float32Array(copy.buffer);
  if (q.dtype === 'uint8' || q.dtype === 'uint16') {
    const v = q.dtype === 'uint8' ? copy : new Uint16Array(copy.buffer);
    return Float32Array.from(v, (x) => x * q.scale! + q.min!);
  }
  throw new RangeError(`model: conv weight ${JSON.stringify(spec.name)} is ${q.dtype}-quantized; artifacts take float32 or uint8/uint16-quantized conv weights`);
}


/**
 * A quantized layer's weights as float32 OIHW: each VQK integer times its block's KDS scale (the
 * values DSConv computes with), so tfjs gets a tensor of the right shape and the plug-in's CRC
 * check holds.
 */
function dequantize(l: BundleLayer, where: string): Float32Array {
  const [kh, kw, cin, last] = l.filterShape;
  const dw = l.kind === 'depthwise';
  const outs = dw ? cin * last : last, group = dw ? 1 : cin, taps = kh * kw;
  const taps1 = dw && l.settings!.depthwiseBlocks === 'taps'; // one scale per output channel
  const block = l.settings!.blockSize, nBlocks = Math.ceil(group / block);
  const q = l.q!, s = l.scales!;
  if (!s || s.length !== (taps1 ? outs : outs * nBlocks * taps)) throw new RangeError(`${where} is corrupt: layer ${JSON.stringify(l.name)} has ${s?.length} scales for filter ${JSON.stringify(l.filterShape)}`);
  const w = new Float32Array(q.length);
  for (let o = 0; o < outs; o++) {
    for (let c = 0; c < group; c++) {
      for (let t = 0; t < taps; t++) {
        const k = (o * group + c) * taps + t;
        w[k] = q[k] * s[taps1 ? o : (o * nBlocks + Math.floor(c / block)) * taps + t];
      }
    }
  }
  return w;
}

function formatOf(m: { format?: unknown; modelTopology: object }): 'layers-model' | 'graph-model' {
  if (m.format === 'layers-model' || m.format === 'graph-model') return m.format;
  return 'node' in m.modelTopology ? 'graph-model' : 'layers-model';
}

/**
 * The artifact of a model (its artifacts as an IOHandler loads them, e.g. `await fileIO(path).load()`)
 * and a bundle made from it with `useDSConv(tf, { model })` (so its layers carry weight names).
 * Each quantized conv's float weights are left out; kept-float convs and every other weight stay as
 * stored. A bundle whose layers name no weight of the model, or whose weights differ from those it
 * was made from, is a RangeError naming the layer.
 */
export function encodeArtifact(model: ModelArtifactsLike, bundle: Uint8Array): Uint8Array {
  if (typeof model !== 'object' || model === null || typeof model.modelTopology !== 'object' || model.modelTopology === null
    || model.modelTopology instanceof ArrayBuffer || !Array.isArray(model.weightSpecs)
    || !(model.weightData instanceof ArrayBuffer || Array.isArray(model.weightData))) {
    throw new TypeError(`model must be a TF.js model's artifacts ({ modelTopology: JSON, weightSpecs, weightData }, as an IOHandler's load() gives), got ${describe(model)}`);
  }
  const b = decodeBundle(bundle);
  const data = model.weightData instanceof ArrayBuffer ? new Uint8Array(model.weightData) : concatBytes(model.weightData.map((d) => new Uint8Array(d)));
  const byName = new Map<string, { spec: WeightSpec; bytes: Uint8Array }>();
  let at = 0;
  for (const spec of model.weightSpecs) {
    const n = storedBytes(spec, 'model');
    if (at + n > data.length) throw new RangeError(`model.weightData has ${data.length} bytes; its weight specs need more (weight ${JSON.stringify(spec.name)} ends at byte ${at + n})`);
    byName.set(spec.name, { spec, bytes: data.subarray(at, at + n) });
    at += n;
  }
  if (at !== data.length) throw new RangeError(`model.weightData has ${data.length} bytes; its weight specs describe ${at}`);

  const layers = b.layers.map((l): BundleLayer => {
    const what = `bundle layer #${l.index}`;
    if (l.name === undefined) throw new RangeError(`${what} has no weight name: make the bundle with useDSConv(tf, { model }) so its layers are named`);
    const w = byName.get(l.name);
    if (!w) throw new RangeError(`${what} (${JSON.stringify(l.name)}) names no weight of this model; was the bundle made from another model?`);
    if (w.spec.dtype !== 'float32' || !sameShape(w.spec.shape, l.filterShape)) {
      throw new RangeError(`${what} (${JSON.stringify(l.name)}) is a ${JSON.stringify(l.filterShape)} filter; the model's weight is ${w.spec.dtype} ${JSON.stringify(w.spec.shape)}`);
    }
    const [kh, kw, cin, last] = l.filterShape;
    if (weightsCrc(toOIHW(floatValues(w.spec, w.bytes), kh, kw, cin, last, l.kind === 'depthwise')) !== l.weightsCrc) {
      throw new RangeError(`${what} (${JSON.stringify(l.name)}) does not match this model: its float weights differ from those the bundle was made from`);
    }
    return l.settings ? { ...l, weightsCrc: weightsCrc(dequantize(l, 'bundle')) } : l;
  });
  const quantized = new Set(layers.filter((l) => l.settings).map((l) => l.name!));

  const kept: Uint8Array[] = [];
  const weightSpecs = model.weightSpecs.map((spec) => {
    if (quantized.has(spec.name)) return { name: spec.name, shape: spec.shape, dtype: 'float32', dsconv: true };
    kept.push(byName.get(spec.name)!.bytes);
    return spec;
  });
  const { modelTopology, weightSpecs: _s, weightData: _d, ...rest } = model;
  const parts = [
    new TextEncoder().encode(JSON.stringify({ ...rest, format: formatOf(model), modelTopology, weightSpecs })),
    concatBytes(kept),
    encodeBundle({ layers, meta: b.meta } satisfies Bundle),
  ];
  const offsets: number[] = [];
  let end = HEADER;
  for (const p of parts) { offsets.push(end); end = (end + p.length + 3) & ~3; }
  const out = new Uint8Array(end);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, ARTIFACT_VERSION, true);
  view.setUint32(8, PARTS.length, true);
  parts.forEach((p, i) => {
    const e = 12 + 16 * i;
    view.setUint32(e, tagOf(PARTS[i][0]), true);
    view.setUint32(e + 4, offsets[i], true);
    view.setUint32(e + 8, p.length, true);
    view.setUint32(e + 12, crc32(p), true);
    out.set(p, offsets[i]);
  });
  view.setUint32(HEADER - 4, crc32(out.subarray(0, HEADER - 4)), true);
  return out;
}

/**
 * Parses and checks an artifact and rebuilds the model's artifacts with each quantized conv's
 * weights dequantized from its VQK and KDS. A corrupt, truncated, foreign or inconsistent
 * artifact is a RangeError naming the part ('header', 'model', 'weights' or 'convs').
 */
export function decodeArtifact(source: Uint8Array | ArrayBuffer): DecodedArtifact {
  if (!(source instanceof Uint8Array) && !(source instanceof ArrayBuffer)) {
    throw new TypeError(`artifact must be a Uint8Array or ArrayBuffer (a .dsqm file), got ${describe(source)}`);
  }
  const bytes = source instanceof Uint8Array ? source : new Uint8Array(source);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12) throw new RangeError(`artifact is truncated: the header needs ${HEADER} bytes, the artifact has ${bytes.length}`);
  if (view.getUint32(0, true) !== MAGIC) throw new RangeError('artifact header: not a dsconv quantized model (bad magic; expected "DSQM")');
  const version = view.getUint32(4, true);
  if (version !== ARTIFACT_VERSION) throw new RangeError(`artifact header: format version ${version}; this dsconv reads version ${ARTIFACT_VERSION}`);
  if (bytes.length < HEADER) throw new RangeError(`artifact is truncated: the header needs ${HEADER} bytes, the artifact has ${bytes.length}`);
  if (view.getUint32(8, true) !== PARTS.length || crc32(bytes.subarray(0, HEADER - 4)) !== view.getUint32(HEADER - 4, true)) {
    throw new RangeError('artifact header is corrupt: CRC-32 mismatch');
  }
  const part = {} as Record<PartName, Uint8Array>;
  PARTS.forEach(([tag, name], i) => {
    const e = 12 + 16 * i;
    if (view.getUint32(e, true) !== tagOf(tag)) throw new RangeError(`artifact header: part ${i} is not '${name}'`);
    const at = view.getUint32(e + 4, true), len = view.getUint32(e + 8, true);
    if (at + len > bytes.length) throw new RangeError(`artifact is truncated: part '${name}' needs bytes ${at}..${at + len}, the artifact has ${bytes.length}`);
    part[name] = bytes.subarray(at, at + len);
    if (crc32(part[name]) !== view.getUint32(e + 12, true)) throw new RangeError(`artifact part '${name}' is corrupt: CRC-32 mismatch`);
  });

  let m: StoredModel;
  try {
    m = JSON.parse(new TextDecoder().decode(part.model));
  } catch {
    throw new RangeError('artifact part \'model\' is unreadable: not JSON');
  }
  if (typeof m?.modelTopology !== 'object' || !Array.isArray(m.weightSpecs)) throw new RangeError('artifact part \'model\' has no modelTopology or weightSpecs');
  let bundle: Bundle;
  try {
    bundle = decodeBundle(part.convs);
  } catch (e) {
    throw new RangeError(`artifact part 'convs': ${(e as Error).message}`);
  }
  const convs = new Map(bundle.layers.filter((l) => l.settings && l.name !== undefined).map((l) => [l.name!, l]));

  // A quantized layer whose weight is stored float would fail the plug-in's CRC check only when it runs.
  const marked = new Set(m.weightSpecs.filter((w) => w.dsconv).map((w) => w.name));
  for (const name of convs.keys()) {
    if (!marked.has(name)) throw new RangeError(`artifact part 'convs' does not match part 'model': its layer ${JSON.stringify(name)} has no weight marked for it`);
  }
  const chunks: Uint8Array[] = [];
  let at = 0;
  const weightSpecs = m.weightSpecs.map(({ dsconv, ...spec }) => {
    if (dsconv) {
      const l = convs.get(spec.name);
      if (!l || !sameShape(l.filterShape, spec.shape)) throw new RangeError(`artifact part 'convs' does not match part 'model': no quantized layer for weight ${JSON.stringify(spec.name)} ${JSON.stringify(spec.shape)}`);
      const w = fromOIHW(dequantize(l, 'artifact part \'convs\''), l.filterShape, l.kind === 'depthwise');
      chunks.push(new Uint8Array(w.buffer));
    } else {
      const n = storedBytes(spec, 'artifact part \'model\'');
      if (at + n > part.weights.length) throw new RangeError(`artifact part 'weights' has ${part.weights.length} bytes; part 'model' describes more (weight ${JSON.stringify(spec.name)})`);
      chunks.push(part.weights.subarray(at, at += n));
    }
    return spec;
  });
  if (at !== part.weights.length) throw new RangeError(`artifact part 'weights' has ${part.weights.length} bytes; part 'model' describes ${at}`);
  return {
    format: formatOf(m),
    artifacts: { ...m, weightSpecs, weightData: concatBytes(chunks).buffer as ArrayBuffer },
    bundle: part.convs,
    meta: bundle.meta,
    sizes: { model: part.model.length, weights: part.weights.length, convs: part.convs.length },
  };
}
