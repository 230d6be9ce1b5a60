// The benchmark behind `dsconv bench`, browser-safe (no node: modules, no peer packages): the
// layer suite, this package's engines, the runner and the phase breakdown. Peer engines
// (bench-peers.ts) and the reports (bench-report.ts) plug into the same types. All engines run in
// one process and take turns, so the ratios between them are measured side by side.
import Benchmark from 'benchmark';
import { init, rt } from './wasm.js';
import { Conv2d, DSConv2d } from './layer.js';
import type { Layout } from './geometry.js';

export * from './bench-report.js';

export interface LayerSpec {
  name: string;
  size: number;        // input height = width
  inChannels: number;
  outChannels: number;
  kernel: number;      // kh = kw
  stride: number;
  groups: number;      // inChannels for depthwise
  macs: number;        // multiply-accumulates of one batch-1 call
}

/** Padding of every suite layer: (k - 1) / 2 on each side, as in the networks they come from. */
export const padOf = (s: Pick<LayerSpec, 'kernel'>) => (s.kernel - 1) >> 1;
export const outSizeOf = (s: Pick<LayerSpec, 'size' | 'kernel' | 'stride'>) =>
  Math.floor((s.size + 2 * padOf(s) - s.kernel) / s.stride) + 1;

function layer(name: string, size: number, inChannels: number, outChannels: number, kernel: number, stride = 1, groups = 1): LayerSpec {
  const o = outSizeOf({ size, kernel, stride });
  return { name, size, inChannels, outChannels, kernel, stride, groups, macs: o * o * outChannels * (inChannels / groups) * kernel * kernel };
}

/** The layers of issue 3, batch 1; every one has a bias and a ReLU. Names give the input size. */
export const SUITE: readonly LayerSpec[] = [
  layer('resnet18 56x56 64->64', 56, 64, 64, 3),
  layer('resnet18 28x28 128->128', 28, 128, 128, 3),
  layer('resnet18 14x14 256->256', 14, 256, 256, 3),
  layer('resnet18 7x7 512->512', 7, 512, 512, 3),
  layer('resnet18 56x56 64->128 s2', 56, 64, 128, 3, 2),
  layer('resnet50 56x56 64->256 1x1', 56, 64, 256, 1),
  layer('resnet50 14x14 1024->256 1x1', 14, 1024, 256, 1),
  layer('vgg16 56x56 256->256', 56, 256, 256, 3),
  layer('mobilenetv2 14x14 96->576 1x1', 14, 96, 576, 1),
  layer('mobilenetv2 14x14 576 dw3x3', 14, 576, 576, 3, 1, 576),
  layer('stem 224x224 3->64 7x7 s2', 224, 3, 64, 7, 2),
];

/**
 * Suite layers picked by name: a term selects the layer of that exact name, or else every layer
 * whose name contains it (case-insensitive), e.g. "resnet18" or "dw". A term matching none is a
 * RangeError naming it.
 */
export function selectLayers(terms: readonly string[]): LayerSpec[] {
  const picked = new Set<LayerSpec>();
  for (const term of terms) {
    const t = term.trim().toLowerCase();
    const exact = SUITE.filter((l) => l.name.toLowerCase() === t);
    const hits = exact.length ? exact : SUITE.filter((l) => t !== '' && l.name.toLowerCase().includes(t));
    if (!hits.length) throw new RangeError(`layers: no suite layer matches ${JSON.stringify(term)}; layers are ${SUITE.map((l) => `"${l.name}"`).join(', ')}`);
    hits.forEach((l) => picked.add(l));
  }
  return SUITE.filter((l) => picked.has(l));
}

/** One layer's tensors, all deterministic: the figures must not depend on a seed's luck. */
export interface LayerData {
  spec: LayerSpec;
  /** OIHW: [outChannels][inChannels / groups][k][k]. */
  weights: Float32Array;
  bias: Float32Array;
  /** NCHW [1][inChannels][size][size]. */
  input: Float32Array;
  /** dsconv-f32's output, NCHW: the yardstick every engine's output is checked against. */
  reference: Float32Array;
}

function gaussian(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return out;
}

/** The conv options of a suite layer for this package's layers. */
export function convOptions(spec: LayerSpec, bias: Float32Array) {
  return {
    inChannels: spec.inChannels, outChannels: spec.outChannels, kernelSize: spec.kernel, stride: spec.stride,
    padding: padOf(spec), groups: spec.groups, bias, activation: 'relu' as const,
  };
}

/** Weights (He-scaled Gaussian), bias, input and the float reference output of a suite layer. */
export async function layerData(spec: LayerSpec): Promise<LayerData> {
  await init();
  const fanIn = (spec.inChannels / spec.groups) * spec.kernel ** 2;
  const weights = gaussian(spec.outChannels * fanIn, 1, Math.sqrt(2 / fanIn));
  const bias = gaussian(spec.outChannels, 2, 0.1);
  const input = gaussian(spec.inChannels * spec.size * spec.size, 3);
  const conv = new Conv2d(weights, convOptions(spec, bias));
  const reference = conv.forward(input, { height: spec.size, width: spec.size });
  conv.dispose();
  return { spec, weights, bias, input, reference };
}

/** [c][p] -> [p][c] for one image of `c` channels. */
export function toNhwc(x: Float32Array, c: number): Float32Array {
  const p = x.length / c;
  const out = new Float32Array(x.length);
  for (let k = 0; k < c; k++) for (let i = 0; i < p; i++) out[i * c + k] = x[k * p + i];
  return out;
}

/** [p][c] -> [c][p] for one image of `c` channels. */
export function toNchw(x: Float32Array, c: number): Float32Array {
  const p = x.length / c;
  const out = new Float32Array(x.length);
  for (let k = 0; k < c; k++) for (let i = 0; i < p; i++) out[k * p + i] = x[i * c + k];
  return out;
}

/** Weight bytes an engine holds for a layer, and what that figure counts. */
export interface Resident {
  bytes: number;
  note: string;
}

/** An engine set up for one layer. */
export interface EngineInstance {
  /** One call as a user pays it, on the input in the engine's layout; a Promise where the engine's API is asynchronous. */
  run(): void | Promise<unknown>;
  /** The output of one call, NCHW, for the correctness check. */
  output(): Float32Array | Promise<Float32Array>;
  resident(): Resident;
  dispose(): void | Promise<void>;
}

export interface Engine {
  id: string;
  /** Layout of the input it is given and the output it returns. */
  layout: Layout;
  /** What one timed call includes. */
  timing: string;
  /** Lowest SQNR (dB) against dsconv-f32 that counts as a correctly configured engine. */
  minSqnr: number;
  /** Builds the engine's layer (weights packed here or on the first call, outside the timing). */
  create(data: LayerData): Promise<EngineInstance>;
}

export const DSCONV_ENGINES = ['dsconv-int4', 'dsconv-int8', 'dsconv-f32'] as const;

/**
 * This package's engines. NHWC is their natural layout (the kernels read NHWC; NCHW adds a
 * transpose of the input and a strided output write); `layout` forces one.
 */
export function dsconvEngines(layout: Layout = 'NHWC'): Engine[] {
  const make = (id: string, minSqnr: number, build: (d: LayerData) => Conv2d | DSConv2d): Engine => ({
    id, layout, minSqnr,
    timing: `forward(): input copy and NaN scan, ${layout === 'NCHW' ? 'NCHW->NHWC transpose, ' : ''}${id === 'dsconv-f32' ? '' : 'BFP conversion, '}kernel, epilogue (bias, ReLU${layout === 'NCHW' ? ', NCHW' : ''}), output copied into a reused array`,
    async create(d) {
      const s = d.spec;
      const l = build(d);
      const input = layout === 'NHWC' ? toNhwc(d.input, s.inChannels) : d.input;
      const shape = { height: s.size, width: s.size, layout };
      const weights = l.residentBytes; // before the first call: the weights alone, no per-shape buffers
      const [oh, ow] = l.outputSize(s.size, s.size);
      const out = new Float32Array(s.outChannels * oh * ow); // reused, as a caller looping over inputs would
      return {
        run: () => { l.forward(input, shape, out); },
        output: () => {
          const y = l.forward(input, shape);
          return layout === 'NHWC' ? toNchw(y, s.outChannels) : y;
        },
        resident: () => ({
          bytes: weights,
          note: `in wasm${l instanceof DSConv2d ? `, ${l.weightBytes.total} B at rest` : ''}; +${l.residentBytes - weights} B per input shape`,
        }),
        dispose: () => l.dispose(),
      };
    },
  });
  const q = (bits: number) => (d: LayerData) => DSConv2d.fromFloat(d.weights, { ...convOptions(d.spec, d.bias), bits, blockSize: 32, mantissaBits: 8 });
  return [
    make('dsconv-int4', 15, q(4)),
    make('dsconv-int8', 30, q(8)),
    make('dsconv-f32', 100, (d) => new Conv2d(d.weights, convOptions(d.spec, d.bias))),
  ];
}

/** SQNR of `y` against `ref` in dB (Infinity when equal). */
export function sqnr(y: Float32Array, ref: Float32Array): number {
  let sig = 0, err = 0;
  for (let i = 0; i < ref.length; i++) { sig += ref[i] ** 2; err += (y[i] - ref[i]) ** 2; }
  return err === 0 ? Infinity : 10 * Math.log10(sig / err);
}

export interface BenchResult {
  layer: string;
  engine: string;
  macs: number;
  /** Median of all samples, ms per call. */
  ms: number;
  gmacs: number;
  /** benchmark.js relative margin of error, percent (the worst round). */
  rme: number;
  /** One-off: building the engine's layer plus its first call (where peers pack weights). */
  prepMs: number;
  resident: Resident;
  /** The layer's weights as float32, bytes. */
  float32Bytes: number;
  /** Of the output against dsconv-f32, dB. */
  sqnr: number;
}

export interface Progress {
  layer: LayerSpec;
  layerIndex: number;
  layerCount: number;
  engine: string;
  stage: 'prepare' | 'warm' | 'time';
  round?: number;
  rounds?: number;
}

export interface BenchOptions {
  layers?: readonly LayerSpec[];
  engines: readonly Engine[];
  /** Seconds benchmark.js may spend per engine and layer, over all rounds. Default 1. */
  maxTime?: number;
  /** benchmark.js's shortest sample, seconds (default: its own, 0.05 or more) and fewest samples per round (default 5). */
  minTime?: number;
  minSamples?: number;
  /** Warm-up per engine and layer before timing: at least this many seconds (default 0.3) ... */
  warmTime?: number;
  /** ... and at least this many calls (default 5). */
  warmCalls?: number;
  onProgress?: (p: Progress) => void;
  /** Called with each layer's results once all its engines are timed. */
  onLayer?: (results: BenchResult[]) => void;
}

/** Rounds in which the engines of one layer take turns. */
export const ROUNDS = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const now = () => performance.now();

/** Times one engine for up to `maxTime` seconds; resolves with benchmark.js's samples (seconds per call). */
function timeOnce(name: string, inst: EngineInstance, isAsync: boolean, options: { maxTime: number; minTime?: number; minSamples: number }): Promise<{ sample: number[]; rme: number }> {
  return new Promise((resolve, reject) => {
    const done = (b: Benchmark) => (b.error ? reject(b.error) : resolve({ sample: b.stats.sample, rme: b.stats.rme }));
    if (!isAsync) {
      done(new Benchmark(name, () => { inst.run(); }, options).run({ async: false }));
      return;
    }
    const bench: Benchmark = new Benchmark(name, (deferred: { resolve(): void }) => {
      (inst.run() as Promise<unknown>).then(() => deferred.resolve(), (e: Error) => { bench.error = e; deferred.resolve(); });
    }, { ...options, defer: true, onComplete: () => done(bench) });
    bench.run({ async: true });
  });
}

/**
 * Times every engine on every layer. Per layer: each engine is built (and its first output
 * checked against dsconv-f32: a misconfigured engine is an Error, not a figure), warmed up past
 * V8's baseline tier, then the engines take turns over ROUNDS rounds so that a burst of load on
 * a shared machine lands on all of them; each figure is the median of all its samples.
 */
export async function runBench(options: BenchOptions): Promise<BenchResult[]> {
  await init();
  const layers = options.layers ?? SUITE;
  const maxTime = options.maxTime ?? 1;
  const warmTime = (options.warmTime ?? 0.3) * 1e3;
  const warmCalls = options.warmCalls ?? 5;
  const all: BenchResult[] = [];
  for (const [layerIndex, spec] of layers.entries()) {
    const data = await layerData(spec);
    const progress = (engine: string, stage: Progress['stage'], round?: number) =>
      options.onProgress?.({ layer: spec, layerIndex, layerCount: layers.length, engine, stage, round, rounds: round === undefined ? undefined : ROUNDS });
    const runs = [];
    try {
      for (const engine of options.engines) {
        progress(engine.id, 'prepare');
        const t0 = now();
        const inst = await engine.create(data);
        runs.push({ engine, inst, isAsync: false, prepMs: 0, sqnr: 0, samples: [] as number[], rme: [] as number[], resident: { bytes: 0, note: '' } });
        const run = runs[runs.length - 1];
        const y = await inst.output();
        run.prepMs = now() - t0;
        run.sqnr = sqnr(y, data.reference);
        if (y.length !== data.reference.length || !(run.sqnr >= engine.minSqnr)) {
          throw new Error(`${engine.id} on ${spec.name}: output disagrees with dsconv-f32 (SQNR ${run.sqnr.toFixed(1)} dB, expected >= ${engine.minSqnr} dB); the engine is misconfigured`);
        }
        progress(engine.id, 'warm');
        const w0 = now();
        // At least one call, which also tells whether the engine is asynchronous.
        for (let calls = 0; calls < Math.max(1, warmCalls) || now() - w0 < warmTime; calls++) {
          const r = inst.run();
          if (r instanceof Promise) { run.isAsync = true; await r; }
        }
      }
      for (let round = 0; round < ROUNDS; round++) {
        for (const run of runs) {
          progress(run.engine.id, 'time', round + 1);
          const { sample, rme } = await timeOnce(`${spec.name} ${run.engine.id}`, run.inst, run.isAsync,
            { maxTime: maxTime / ROUNDS, minSamples: options.minSamples ?? 5, ...(options.minTime === undefined ? {} : { minTime: options.minTime }) });
          run.samples.push(...sample);
          run.rme.push(rme);
        }
      }
      for (const run of runs) run.resident = run.inst.resident();
    } finally {
      for (const run of runs) await run.inst.dispose();
    }
    const results = runs.map((run): BenchResult => {
      const ms = median(run.samples) * 1e3;
      return {
        layer: spec.name, engine: run.engine.id, macs: spec.macs, ms, gmacs: spec.macs / ms / 1e6,
        rme: Math.max(...run.rme), prepMs: run.prepMs, resident: run.resident, float32Bytes: data.weights.byteLength, sqnr: run.sqnr,
      };
    });
    all.push(...results);
    options.onLayer?.(results);
  }
  return all;
}

// ---------------------------------------------------------------------------------------------

/** Where one forward() call's time goes. */
export interface Breakdown {
  layer: string;
  engine: string;
  /** Mean ms per call. */
  ms: number;
  /** Mean ms per call in each phase; the phases sum to `ms`. */
  phases: Record<BreakdownPhase, number>;
}

export const BREAKDOWN_PHASES = ['nan scan', 'transpose', 'bfp', 'kernel', 'epilogue', 'copies + js'] as const;
export type BreakdownPhase = typeof BREAKDOWN_PHASES[number];

/** Which phase a wasm export belongs to; every other export called during forward() is the kernel. */
function phaseOf(name: string): BreakdownPhase {
  if (name.startsWith('find_nonfinite')) return 'nan scan';
  if (name.startsWith('transpose') || name.startsWith('repack')) return 'transpose';
  if (name.startsWith('bfp')) return 'bfp';
  if (name.startsWith('epilogue')) return 'epilogue';
  return 'kernel';
}

/**
 * Times the phases of this package's forward() for each layer and engine: every wasm export is
 * wrapped in a timer for the duration (forward() looks its kernels up on each call), and what is
 * left of the call (copying the input in and the output out, JavaScript) is 'copies + js'. The
 * per-block float rescale of DSConv runs inside its integer kernel, so it counts as 'kernel';
 * 'epilogue' is bias, ReLU and the output layout. Averages `calls` calls after a warm-up.
 */
export async function runBreakdown(options: { layers?: readonly LayerSpec[]; engines: readonly Engine[]; calls?: number; onProgress?: (p: Progress) => void }): Promise<Breakdown[]> {
  await init();
  const k = rt().k as unknown as Record<string, unknown>;
  const out: Breakdown[] = [];
  const layers = options.layers ?? SUITE;
  for (const [layerIndex, spec] of layers.entries()) {
    const data = await layerData(spec);
    for (const engine of options.engines) {
      options.onProgress?.({ layer: spec, layerIndex, layerCount: layers.length, engine: engine.id, stage: 'time' });
      const inst = await engine.create(data);
      const calls = options.calls ?? Math.max(10, Math.min(200, Math.round(3e8 / spec.macs)));
      for (let i = 0; i < calls; i++) inst.run(); // warm-up
      const phases = Object.fromEntries(BREAKDOWN_PHASES.map((p) => [p, 0])) as Record<BreakdownPhase, number>;
      const saved = new Map<string, unknown>();
      for (const [name, fn] of Object.entries(k)) {
        if (typeof fn !== 'function') continue;
        saved.set(name, fn);
        const phase = phaseOf(name);
        k[name] = (...args: unknown[]) => {
          const t = now();
          try { return (fn as (...a: unknown[]) => unknown)(...args); } finally { phases[phase] += now() - t; }
        };
      }
      let total = 0;
      try {
        const t = now();
        for (let i = 0; i < calls; i++) inst.run();
        total = now() - t;
      } finally {
        for (const [name, fn] of saved) k[name] = fn;
        await inst.dispose();
      }
      let inWasm = 0;
      for (const p of BREAKDOWN_PHASES) { phases[p] /= calls; inWasm += phases[p]; }
      phases['copies + js'] = Math.max(0, total / calls - inWasm);
      out.push({ layer: spec.name, engine: engine.id, ms: total / calls, phases });
    }
  }
  return out;
}
