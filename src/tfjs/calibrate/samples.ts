// What the fits are made of: the float layer's outputs, a seeded sample of output positions, the
// values there, and the BFP-dequantized input patches a DSConv layer reads at them.
import { Conv2d } from '../../core/layers/conv2d.js';
import type { DSConvOptions } from '../../core/options.js';
import { outputExtent } from '../../core/geometry.js';
import { mulberry32 } from '../../core/random.js';
import { nchwToNhwc } from '../../core/layout.js';
import { bfpDequantize } from '../../core/bfp.js';
import type { ConvCall } from '../types.js';

/** The float layer's pre-activation output, in the call's layout. */
export function floatConv(call: ConvCall): Float32Array {
  const layer = new Conv2d(call.weights, call.options);
  try {
    return layer.forward(call.input, call.shape);
  } finally {
    layer.dispose();
  }
}

/** [outHeight, outWidth] of a call (its padding is explicit: the plug-in resolves it). */
export function outSize(o: DSConvOptions, h: number, w: number): [number, number] {
  const [kh, kw] = o.kernelSize as [number, number];
  const [sy, sx] = o.stride as [number, number];
  const [dy, dx] = o.dilation as [number, number];
  const [t, l, b, r] = o.padding as number[];
  return [outputExtent(h, kh, sy, dy, t, b), outputExtent(w, kw, sx, dx, l, r)];
}

/** Seeded sample of output positions (flat n·oh·ow + y·ow + x), all of them when fewer than asked. */
export function positions(call: ConvCall, count: number, seed: number): Int32Array {
  const [oh, ow] = outSize(call.options, call.shape.height, call.shape.width);
  const total = call.shape.batch * oh * ow;
  if (total <= count) return Int32Array.from({ length: total }, (_, i) => i);
  const next = mulberry32(seed);
  const picked = new Set<number>();
  while (picked.size < count) picked.add(Math.floor(next() * total));
  return Int32Array.from([...picked].sort((a, b) => a - b));
}

/** A layer output of this call as NHWC. */
export function outputNhwc(call: ConvCall, y: Float32Array): Float32Array {
  if (call.shape.layout === 'NHWC') return y;
  const [oh, ow] = outSize(call.options, call.shape.height, call.shape.width);
  return nchwToNhwc(y, call.shape.batch, call.options.outChannels, oh * ow);
}

/** The rows of y ([positions][c]) at `pos`. */
export function gather(y: Float32Array, pos: Int32Array, c: number): Float32Array {
  const out = new Float32Array(pos.length * c);
  for (let s = 0; s < pos.length; s++) out.set(y.subarray(pos[s] * c, pos[s] * c + c), s * c);
  return out;
}

/**
 * The BFP-dequantized input patches at the sampled positions, [S][taps][inChannels], zero where a
 * tap reads padding: the activations the DSConv layer multiplies its weights with.
 */
export function patches(call: ConvCall, pos: Int32Array, blockSize: number, mantissaBits: number): Float32Array {
  const opts = call.options;
  const Cin = opts.inChannels, groups = opts.groups ?? 1;
  const [kh, kw] = opts.kernelSize as [number, number];
  const taps = kh * kw;
  const { batch, height: H, width: W } = call.shape;
  const [oh, ow] = outSize(opts, H, W);
  const [sy, sx] = opts.stride as [number, number];
  const [dy, dx] = opts.dilation as [number, number];
  const [pt, pl] = opts.padding as number[];
  const x = call.shape.layout === 'NHWC' ? call.input : nchwToNhwc(call.input, batch, Cin, H * W);
  // One image at a time, so the wasm pass needs no more scratch than a forward call.
  const xq = new Float32Array(x.length);
  const image = H * W * Cin;
  for (let n = 0; n < batch; n++) {
    xq.set(bfpDequantize(x.subarray(n * image, (n + 1) * image), H * W, Cin, groups, blockSize, mantissaBits), n * image);
  }
  const S = pos.length;
  const px = new Float32Array(S * taps * Cin);
  for (let s = 0; s < S; s++) {
    const p = pos[s];
    const n = Math.floor(p / (oh * ow)), oy = Math.floor((p % (oh * ow)) / ow), ox = p % ow;
    for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
      const iy = oy * sy - pt + i * dy, ix = ox * sx - pl + j * dx;
      if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
      const at = ((n * H + iy) * W + ix) * Cin;
      px.set(xq.subarray(at, at + Cin), (s * taps + i * kw + j) * Cin);
    }
  }
  return px;
}
