// Peer engines for the benchmark: TensorFlow.js's wasm backend (XNNPACK, one thread) and
// onnxruntime-web (on the threads asked for), each with SIMD, in its own natural layout. They are devDependencies, loaded
// with import() so the published package runs without them (and says what to install).
import type { Engine, EngineInstance } from './engine.js';
import { type LayerData, padOf, outSizeOf } from './suite.js';
import { nchwToNhwc, nhwcToNchw } from '../core/layout.js';
import { model, type Graph } from './onnx.js';

export const PEER_ENGINES = ['xnnpack-f32', 'ort-f32', 'ort-int8'] as const;
export type PeerId = typeof PEER_ENGINES[number];

/** Why a peer could not be loaded. */
export interface Unavailable {
  id: PeerId;
  reason: string;
}

/** What each peer needs installed (the figures in docs/BENCHMARKS.md use tfjs 4.22.0). */
const PACKAGES: Record<PeerId, string> = {
  'xnnpack-f32': '@tensorflow/tfjs-core @tensorflow/tfjs-backend-wasm',
  'ort-f32': 'onnxruntime-web',
  'ort-int8': 'onnxruntime-web',
};

/** The package an ERR_MODULE_NOT_FOUND names ("Cannot find package 'x' imported from ..."), if it names one. */
export function missingPackage(e: unknown): string | undefined {
  if ((e as { code?: string } | null)?.code !== 'ERR_MODULE_NOT_FOUND') return undefined;
  return /Cannot find (?:package|module) '((?:@[^/']+\/)?[^/']+)/.exec((e as Error).message)?.[1];
}

// Loosely typed views of the peers' APIs: only what is used here.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Tf = any;
type Ort = any;

// Loaded once per module specifier.
const loading = new Map<string, Promise<unknown>>();
function once<T>(key: string, load: () => Promise<T>): Promise<T> {
  let p = loading.get(key) as Promise<T> | undefined;
  if (!p) {
    p = load();
    loading.set(key, p);
    p.catch(() => loading.delete(key));
  }
  return p;
}

/**
 * The module specifiers, overridable so a test can make a peer missing, and so a page can point
 * them at URLs (a browser's import() of a bare name fails), with `ortWasmPaths` the URL prefix of
 * ORT's ort-wasm-simd-threaded.mjs and .wasm (unset: ORT finds them itself, as in Node).
 */
export const peerModules: { tfCore: string; tfWasm: string; ort: string; ortWasmPaths?: string } = {
  tfCore: '@tensorflow/tfjs-core',
  tfWasm: '@tensorflow/tfjs-backend-wasm',
  ort: 'onnxruntime-web',
};

async function loadTf(): Promise<Tf> {
  const tf = await import(peerModules.tfCore);
  // In Node the backend reads tfjs-backend-wasm-simd.wasm next to its own module: threads are
  // off in Node, so it takes the SIMD build, and XNNPACK runs on the calling thread.
  await import(peerModules.tfWasm);
  if (!(await tf.setBackend('wasm')) || tf.getBackend() !== 'wasm') throw new Error('the tfjs wasm backend did not initialise');
  // These two flags are what picks tfjs-backend-wasm-simd.wasm.
  if (!(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) || await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) {
    throw new Error('the tfjs wasm backend would not load its single-threaded SIMD build here');
  }
  const threads = tf.backend().wasm.tfjs.getThreadsCount();
  if (threads !== 1) throw new Error(`the tfjs wasm backend runs ${threads} threads, expected 1`);
  return tf;
}

async function loadOrt(threads: number): Promise<Ort> {
  const mod = await import(peerModules.ort);
  const ort = mod.default ?? mod;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  if (peerModules.ortWasmPaths !== undefined) ort.env.wasm.wasmPaths = peerModules.ortWasmPaths;
  ort.env.logLevel = 'error';
  // A one-node session loads ORT's wasm now, so the first layer's preparation time is the layer's own.
  const warm = await ort.InferenceSession.create(model({
    nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }], initializers: [],
    input: { name: 'x', dims: [1] }, output: { name: 'y', dims: [1] },
  }), { executionProviders: ['wasm'] });
  await warm.release();
  return ort;
}

/**
 * The peer engines asked for. A peer whose package is missing is left out and listed as
 * unavailable, unless `required` (named explicitly by the user): then it is an Error saying what
 * to install.
 */
export async function loadPeers(ids: readonly PeerId[], required: boolean, threads = 1): Promise<{ engines: Engine[]; unavailable: Unavailable[] }> {
  const engines: Engine[] = [];
  const unavailable: Unavailable[] = [];
  for (const id of ids) {
    try {
      if (id === 'xnnpack-f32') engines.push(xnnpack(await once(`${peerModules.tfCore} ${peerModules.tfWasm}`, loadTf)));
      // ORT takes its thread count once, when its wasm first loads.
      else engines.push(onnx(await once(peerModules.ort, () => loadOrt(threads)), id === 'ort-int8'));
    } catch (e) {
      // A package that is not installed says what to install, not where Node looked for it.
      const reason = (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' ? `not installed: npm install ${PACKAGES[id]}` : e instanceof Error ? e.message : String(e);
      if (required) throw new Error(`engine ${id} needs ${PACKAGES[id].split(' ').join(' and ')}; ${reason}`);
      unavailable.push({ id, reason });
    }
  }
  return { engines, unavailable };
}

/**
 * xnnpack-f32: tf.fused.conv2d / tf.fused.depthwiseConv2d with bias and ReLU on the wasm backend.
 * NHWC input, HWIO filter. One call: the input tensor made from the user's Float32Array (copied
 * into wasm memory), the convolution, dataSync() of the output, both tensors disposed.
 */
function xnnpack(tf: Tf): Engine {
  return {
    id: 'xnnpack-f32', layout: 'NHWC', minSqnr: 80,
    threads: () => tf.backend().wasm.tfjs.getThreadsCount(),
    timing: 'tensor from the input, fused conv2d (bias, ReLU), dataSync() of the output, dispose',
    async create(d: LayerData): Promise<EngineInstance> {
      const s = d.spec;
      const k = s.kernel;
      const dw = s.groups > 1;
      if (dw && s.groups !== s.inChannels) throw new RangeError(`xnnpack-f32 runs dense or depthwise layers, got groups = ${s.groups}`);
      const cin = s.inChannels / s.groups;
      // OIHW -> HWIO (dense) or HWC1 (depthwise: I is 1, O is the channel).
      const hwio = new Float32Array(d.weights.length);
      for (let o = 0; o < s.outChannels; o++) {
        for (let i = 0; i < cin; i++) {
          for (let t = 0; t < k * k; t++) {
            hwio[dw ? t * s.outChannels + o : (t * cin + i) * s.outChannels + o] = d.weights[((o * cin) + i) * k * k + t];
          }
        }
      }
      const filter = tf.tensor4d(hwio, dw ? [k, k, s.outChannels, 1] : [k, k, cin, s.outChannels]);
      const bias = tf.tensor1d(d.bias);
      const input = nchwToNhwc(d.input, 1, s.inChannels, s.size * s.size);
      const shape = [1, s.size, s.size, s.inChannels];
      const args = { filter, bias, strides: s.stride, pad: padOf(s), activation: 'relu' };
      const call = (): Float32Array => {
        const x = tf.tensor4d(input, shape);
        const y = dw ? tf.fused.depthwiseConv2d({ x, ...args }) : tf.fused.conv2d({ x, ...args });
        const out = y.dataSync() as Float32Array;
        x.dispose();
        y.dispose();
        return out;
      };
      return {
        run: () => { call(); },
        output: () => nhwcToNchw(call(), 1, s.outChannels, outSizeOf(s) ** 2),
        resident: () => ({ bytes: hwio.byteLength, note: 'float32 given to tfjs' }),
        dispose: () => { filter.dispose(); bias.dispose(); },
      };
    },
  };
}

/** Per-output-channel symmetric int8 weights, as ONNX quantizers make them for QLinearConv. */
function quantizeInt8(w: Float32Array, outChannels: number): { q: Int8Array; scale: Float32Array } {
  const per = w.length / outChannels;
  const q = new Int8Array(w.length);
  const scale = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    let mx = 0;
    for (let i = 0; i < per; i++) mx = Math.max(mx, Math.abs(w[o * per + i]));
    scale[o] = mx > 0 ? mx / 127 : 1;
    for (let i = 0; i < per; i++) q[o * per + i] = Math.round(w[o * per + i] / scale[o]);
  }
  return { q, scale };
}

/**
 * ort-f32: Conv + Relu. ort-int8: QuantizeLinear (uint8 input, scale and zero point from the
 * input's range) -> QLinearConv (per-output-channel int8 weights, int32 bias, uint8 output with
 * zero point 0, which is the ReLU, its scale from the float output's range) -> DequantizeLinear,
 * so float in and float out like dsconv. NCHW, OIHW. One call: an ort.Tensor over the user's
 * Float32Array, session.run(), the output's data.
 */
function onnx(ort: Ort, int8: boolean): Engine {
  return {
    id: int8 ? 'ort-int8' : 'ort-f32', layout: 'NCHW', minSqnr: int8 ? 25 : 80,
    // What ORT runs on: it sets numThreads back to 1 where threads cannot run (a page that is not
    // cross-origin isolated), and keeps the count its wasm first loaded with.
    threads: () => ort.env.wasm.numThreads,
    timing: int8
      ? 'ort.Tensor over the input, session.run() (QuantizeLinear, QLinearConv, DequantizeLinear), output data'
      : 'ort.Tensor over the input, session.run() (Conv with fused ReLU), output data',
    async create(d: LayerData): Promise<EngineInstance> {
      const s = d.spec;
      const o = outSizeOf(s);
      const p = padOf(s);
      const xDims = [1, s.inChannels, s.size, s.size];
      const wDims = [s.outChannels, s.inChannels / s.groups, s.kernel, s.kernel];
      const attributes = { kernel_shape: [s.kernel, s.kernel], pads: [p, p, p, p], strides: [s.stride, s.stride], group: s.groups };
      const io = { input: { name: 'x', dims: xDims }, output: { name: 'y', dims: [1, s.outChannels, o, o] } };
      let graph: Graph;
      let resident: number;
      if (!int8) {
        graph = {
          ...io,
          nodes: [{ op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'], attributes }, { op: 'Relu', inputs: ['c'], outputs: ['y'] }],
          initializers: [{ name: 'w', dims: wDims, data: d.weights }, { name: 'b', dims: [s.outChannels], data: d.bias }],
        };
        resident = d.weights.byteLength;
      } else {
        // Static quantization calibrated on this layer's own input and float output.
        let lo = 0, hi = 0, yHi = 0;
        for (const v of d.input) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
        for (const v of d.reference) yHi = Math.max(yHi, v);
        const xScale = (hi - lo) / 255 || 1;
        const xZero = Math.min(255, Math.max(0, Math.round(-lo / xScale)));
        const yScale = yHi / 255 || 1;
        const { q, scale } = quantizeInt8(d.weights, s.outChannels);
        const bq = new Int32Array(s.outChannels).map((_, c) => Math.round(d.bias[c] / (xScale * scale[c])));
        const scalar = (v: number) => new Float32Array([v]);
        graph = {
          ...io,
          nodes: [
            { op: 'QuantizeLinear', inputs: ['x', 'xs', 'xz'], outputs: ['xq'] },
            { op: 'QLinearConv', inputs: ['xq', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz', 'b'], outputs: ['yq'], attributes },
            { op: 'DequantizeLinear', inputs: ['yq', 'ys', 'yz'], outputs: ['y'] },
          ],
          initializers: [
            { name: 'xs', dims: [], data: scalar(xScale) }, { name: 'xz', dims: [], data: new Uint8Array([xZero]) },
            { name: 'w', dims: wDims, data: q }, { name: 'ws', dims: [s.outChannels], data: scale },
            { name: 'wz', dims: [s.outChannels], data: new Int8Array(s.outChannels) },
            { name: 'ys', dims: [], data: scalar(yScale) }, { name: 'yz', dims: [], data: new Uint8Array([0]) },
            { name: 'b', dims: [s.outChannels], data: bq },
          ],
        };
        resident = q.byteLength + scale.byteLength + s.outChannels;
      }
      const session = await ort.InferenceSession.create(model(graph), {
        executionProviders: ['wasm'], graphOptimizationLevel: 'all',
        // ORT's threads otherwise spin after each run and hold a core while the next engine runs
        // (dsconv-int4 on 2 threads took 1.5x as long beside it); ORT alone was no slower without.
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      });
      const call = async (): Promise<Float32Array> => {
        const r = await session.run({ x: new ort.Tensor('float32', d.input, xDims) });
        return r.y.data as Float32Array;
      };
      return {
        run: call,
        output: call,
        resident: () => ({
          bytes: resident,
          note: int8 ? 'int8 + per-channel scales, zero points given to ORT' : 'float32 given to ORT',
        }),
        dispose: () => session.release(),
      };
    },
  };
}
