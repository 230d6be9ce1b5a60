// The DSConv2d byte format: a fixed header (magic, version, shapes, options), the payload (packed
// VQK, KDS, optional bias and CDS), and a CRC-32 of everything before it. Little-endian.
import type { DSConvOptions, Quantization } from './options.js';
import { QUANT_RANGES } from './options.js';
import { packedWeightBytes } from './quantize.js';
import { ACTIVATIONS } from './geometry.js';
import { crc32 } from './crc32.js';

const MAGIC = 0x56435344; // "DSCV" read as a little-endian u32
export const FORMAT_VERSION = 1;
const HEADER_U32 = 20;
const HEADER_BYTES = 8 + HEADER_U32 * 4;
const HAS_BIAS = 1, HAS_GAMMA = 2, HAS_DELTA = 4;
const PAD_SAME = 1;

export interface LayerRecord {
  options: DSConvOptions;
  quantization: Quantization;
  packedQ: Uint8Array;
  scales: Float32Array;
}

export function encodeLayer(rec: LayerRecord): Uint8Array {
  const o = rec.options;
  const q = rec.quantization;
  const [kh, kw] = o.kernelSize as [number, number];
  const stride = o.stride as [number, number];
  const dilation = o.dilation as [number, number];
  const same = o.padding === 'same';
  const pad = same ? [0, 0, 0, 0] : o.padding as number[];
  const optional = [o.bias, o.gamma, o.delta];
  const flags = (o.bias ? HAS_BIAS : 0) | (o.gamma ? HAS_GAMMA : 0) | (o.delta ? HAS_DELTA : 0);
  const header = [
    o.inChannels, o.outChannels, kh, kw, stride[0], stride[1], dilation[0], dilation[1], o.groups!,
    same ? PAD_SAME : 0, pad[0], pad[1], pad[2], pad[3],
    q.bits, q.blockSize, q.mantissaBits, q.blockMode === 'taps' ? 1 : 0,
    ACTIVATIONS.indexOf(o.activation!), flags,
  ];
  const floats = rec.scales.length + optional.reduce((n, a) => n + (a ? a.length : 0), 0);
  const bytes = new Uint8Array(HEADER_BYTES + align4(rec.packedQ.length) + floats * 4 + 4);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, FORMAT_VERSION, true);
  header.forEach((v, i) => view.setUint32(8 + 4 * i, v, true));
  let at = HEADER_BYTES;
  bytes.set(rec.packedQ, at);
  at += align4(rec.packedQ.length);
  for (const a of [rec.scales, ...optional]) {
    if (!a) continue;
    for (let i = 0; i < a.length; i++, at += 4) view.setFloat32(at, a[i], true);
  }
  view.setUint32(at, crc32(bytes.subarray(0, at)), true);
  return bytes;
}

/** Parses and checks a blob; the options it returns still go through the layer's own validation. */
export function decodeLayer(bytes: unknown): LayerRecord {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`bytes must be a Uint8Array written by toBytes(), got ${typeof bytes}`);
  if (bytes.length < HEADER_BYTES + 4) throw new RangeError(`bytes is truncated: ${bytes.length} bytes, shorter than the ${HEADER_BYTES + 4}-byte header and checksum`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new RangeError('bytes is not a dsconv layer (bad magic; expected "DSCV")');
  const version = view.getUint32(4, true);
  if (version !== FORMAT_VERSION) throw new RangeError(`bytes has format version ${version}; this dsconv reads version ${FORMAT_VERSION}`);
  const h = Array.from({ length: HEADER_U32 }, (_, i) => view.getUint32(8 + 4 * i, true));
  const [inC, outC, kh, kw, sy, sx, dy, dx, groups, padMode, pt, pl, pb, pr, bits, blockSize, mantissaBits, taps, act, flags] = h;
  // Bound every count before sizing anything with it, so a corrupt header cannot ask for a huge allocation.
  if (bits < QUANT_RANGES.bits[0] || bits > QUANT_RANGES.bits[1] || groups < 1 || inC < 1 || outC < 1 || kh < 1 || kw < 1 || kh * kw > 4096
    || inC % groups !== 0 || outC > 1 << 20 || inC > 1 << 20 || blockSize < 1 || act >= ACTIVATIONS.length
    || padMode > PAD_SAME || taps > 1 || flags > (HAS_BIAS | HAS_GAMMA | HAS_DELTA)) {
    throw new RangeError('bytes has a corrupt header (shape or option out of range)');
  }
  const count = outC * (inC / groups) * kh * kw;
  if (count > 2 ** 30) throw new RangeError('bytes has a corrupt header (weight count out of range)');
  const nScales = taps ? outC : outC * Math.ceil(inC / groups / blockSize) * kh * kw;
  const nOptional = [HAS_BIAS, HAS_GAMMA, HAS_DELTA].filter((f) => flags & f).length;
  const qBytes = packedWeightBytes(count, bits);
  const expected = HEADER_BYTES + align4(qBytes) + (nScales + nOptional * outC) * 4 + 4;
  if (bytes.length !== expected) {
    throw new RangeError(`bytes is ${bytes.length < expected ? 'truncated' : 'too long'}: ${bytes.length} bytes, the header describes ${expected}`);
  }
  const stored = view.getUint32(expected - 4, true);
  if (crc32(bytes.subarray(0, expected - 4)) !== stored) throw new RangeError('bytes is corrupt: CRC-32 checksum mismatch');
  let at = HEADER_BYTES + align4(qBytes);
  const floats = (n: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++, at += 4) a[i] = view.getFloat32(at, true);
    return a;
  };
  const scales = floats(nScales);
  const bias = flags & HAS_BIAS ? floats(outC) : undefined;
  const gamma = flags & HAS_GAMMA ? floats(outC) : undefined;
  const delta = flags & HAS_DELTA ? floats(outC) : undefined;
  const quantization: Quantization = {
    bits, blockSize, mantissaBits, blockMode: taps ? 'taps' : 'channels', nBlocks: taps ? 1 : Math.ceil(inC / groups / blockSize),
  };
  return {
    options: {
      inChannels: inC, outChannels: outC, kernelSize: [kh, kw], stride: [sy, sx], dilation: [dy, dx], groups,
      padding: padMode === PAD_SAME ? 'same' : [pt, pl, pb, pr], activation: ACTIVATIONS[act],
      bias, gamma, delta, bits, blockSize, mantissaBits, depthwiseBlocks: quantization.blockMode,
    },
    quantization,
    packedQ: bytes.slice(HEADER_BYTES, HEADER_BYTES + qBytes),
    scales,
  };
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
