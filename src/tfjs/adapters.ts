// Between tfjs tensors and this package's layers: reading a tensor's values on any backend,
// making an output tensor, TF's filter layouts to OIHW, and the fused activations the DSConv
// epilogue does not fuse.
import type { HostHeap } from '../core/guest.js';
import type { Backend, TensorInfo } from './types.js';

/**
 * The tensor's values. On the wasm backend a view of its heap (no copy): callers use it before
 * tfjs allocates again. Elsewhere what readSync gives.
 */
export function readFloat(backend: Backend, t: TensorInfo): Float32Array {
  if (typeof backend.typedArrayFromHeap === 'function' && t.dtype === 'float32') return backend.typedArrayFromHeap(t) as Float32Array;
  const v = backend.readSync(t.dataId);
  if (v instanceof Float32Array) return v;
  return Float32Array.from(v as ArrayLike<number>);
}

/** tfjs-backend-wasm's memory and allocator, for a guest runtime over them; undefined elsewhere. */
export function wasmHeap(backend: Backend): HostHeap | undefined {
  const m = backend.wasm;
  const memory = m?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory) || typeof m!._malloc !== 'function' || typeof m!._free !== 'function') return undefined;
  return { memory, malloc: m!._malloc.bind(m), free: m!._free.bind(m) };
}

export function makeOutput(backend: Backend, shape: number[], values: Float32Array): TensorInfo {
  if (typeof backend.makeTensorInfo === 'function') return backend.makeTensorInfo(shape, 'float32', values);
  return backend.makeOutput!(shape, 'float32', undefined, values);
}

/**
 * TF filter to OIHW: conv HWIO [kh][kw][cin][cout] -> [cout][cin][kh][kw]; depthwise
 * [kh][kw][cin][mult] -> [cin*mult][1][kh][kw] (output channel c*mult + m, as tfjs orders them).
 */
export function toOIHW(f: Float32Array, kh: number, kw: number, cin: number, last: number, depthwise: boolean): Float32Array {
  const out = new Float32Array(f.length);
  const taps = kh * kw;
  for (let t = 0; t < taps; t++) {
    for (let c = 0; c < cin; c++) {
      for (let k = 0; k < last; k++) {
        const v = f[(t * cin + c) * last + k];
        if (depthwise) out[(c * last + k) * taps + t] = v;
        else out[(k * cin + c) * taps + t] = v;
      }
    }
  }
  return out;
}

/** OIHW back to TF's layout: the inverse of toOIHW. */
export function fromOIHW(w: Float32Array, [kh, kw, cin, last]: number[], depthwise: boolean): Float32Array {
  const out = new Float32Array(w.length);
  const taps = kh * kw;
  for (let t = 0; t < taps; t++) {
    for (let c = 0; c < cin; c++) {
      for (let k = 0; k < last; k++) out[(t * cin + c) * last + k] = w[(depthwise ? c * last + k : k * cin + c) * taps + t];
    }
  }
  return out;
}

/** Applies a tfjs fused activation in place (for those the DSConv epilogue does not fuse). */
export function applyActivation(y: Float32Array, act: string, channels: number, plane: number, nchw: boolean,
  attrs: Record<string, unknown>, prelu?: Float32Array): Float32Array {
  const ch = (i: number) => nchw ? Math.floor(i / plane) % channels : i % channels;
  switch (act) {
    case 'linear': return y;
    case 'relu': for (let i = 0; i < y.length; i++) y[i] = y[i] < 0 ? 0 : y[i]; return y;
    case 'relu6': for (let i = 0; i < y.length; i++) y[i] = y[i] < 0 ? 0 : y[i] > 6 ? 6 : y[i]; return y;
    case 'elu': for (let i = 0; i < y.length; i++) y[i] = y[i] >= 0 ? y[i] : Math.exp(y[i]) - 1; return y;
    case 'sigmoid': for (let i = 0; i < y.length; i++) y[i] = 1 / (1 + Math.exp(-y[i])); return y;
    case 'leakyrelu': {
      const a = Number(attrs.leakyreluAlpha ?? 0.2);
      for (let i = 0; i < y.length; i++) if (y[i] < 0) y[i] *= a;
      return y;
    }
    case 'prelu':
      for (let i = 0; i < y.length; i++) if (y[i] < 0) y[i] *= prelu!.length === 1 ? prelu![0] : prelu![ch(i)];
      return y;
    default: throw new RangeError(`fused activation '${act}' is not supported by the DSConv plug-in`);
  }
}
