// The benchmark behind `dsconv bench`: this package's DSConv (4-bit and 8-bit weights) and float
// conv on ResNet-18's 3x3 layers, timed with benchmark.js in one process, so ratios are measured
// side by side. Each timing is one forward() call as a user pays it: input copied in, BFP
// conversion, kernel, epilogue, output copied out. Weight packing happens before timing.
import Benchmark from 'benchmark';
import { init } from './wasm.js';
import { Conv2d, DSConv2d } from './layer.js';
import type { Layout } from './geometry.js';

export interface LayerSpec {
  name: string;
  size: number; // input height = width
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
}

/** ResNet-18's four 3x3 stage shapes, batch 1. */
export const RESNET18_3X3: LayerSpec[] = [
  { name: '56x56 64->64', size: 56, inChannels: 64, outChannels: 64, kernel: 3, stride: 1 },
  { name: '28x28 128->128', size: 28, inChannels: 128, outChannels: 128, kernel: 3, stride: 1 },
  { name: '14x14 256->256', size: 14, inChannels: 256, outChannels: 256, kernel: 3, stride: 1 },
  { name: '7x7 512->512', size: 7, inChannels: 512, outChannels: 512, kernel: 3, stride: 1 },
];

export const ENGINES = ['dsconv-int4', 'dsconv-int8', 'dsconv-f32'] as const;
export type Engine = typeof ENGINES[number];

export interface BenchResult {
  layer: string;
  engine: Engine;
  macs: number;
  ms: number;   // median of the samples
  gmacs: number;
  rme: number;  // benchmark.js relative margin of error, percent (the worst round)
}

export interface BenchOptions {
  layers?: LayerSpec[];
  engines?: readonly Engine[];
  /** Seconds benchmark.js may spend per engine and layer, over all rounds. */
  maxTime?: number;
  layout?: Layout;
  onResult?: (r: BenchResult) => void;
}

/** Deterministic pseudo-random normal values (the figures must not depend on a seed's luck). */
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

/** Rounds in which the engines of one layer take turns. */
const ROUNDS = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export async function runBench(options: BenchOptions = {}): Promise<BenchResult[]> {
  await init();
  const layers = options.layers ?? RESNET18_3X3;
  const engines = options.engines ?? ENGINES;
  const layout = options.layout ?? 'NCHW';
  const results: BenchResult[] = [];
  for (const spec of layers) {
    const pad = (spec.kernel - 1) >> 1;
    const conv = {
      inChannels: spec.inChannels, outChannels: spec.outChannels, kernelSize: spec.kernel,
      stride: spec.stride, padding: pad, activation: 'relu' as const,
    };
    const weights = gaussian(spec.outChannels * spec.inChannels * spec.kernel ** 2, 1, Math.sqrt(2 / (spec.inChannels * spec.kernel ** 2)));
    const bias = gaussian(spec.outChannels, 2, 0.1);
    const input = gaussian(spec.inChannels * spec.size * spec.size, 3);
    const shape = { batch: 1, height: spec.size, width: spec.size, layout };
    const runs = engines.map((engine) => {
      const layer = engine === 'dsconv-f32'
        ? new Conv2d(weights, { ...conv, bias })
        : DSConv2d.fromFloat(weights, { ...conv, bias, bits: engine === 'dsconv-int4' ? 4 : 8, blockSize: 32, mantissaBits: 8 });
      // Warm up past V8's baseline (Liftoff) tier before anything is timed.
      for (let i = 0; i < 20; i++) layer.forward(input, shape);
      return { engine, layer, samples: [] as number[], rme: [] as number[] };
    });
    // Engines take turns over several rounds, so a burst of load on this shared machine lands on
    // all of them rather than on one, and the ratios stay honest.
    for (let round = 0; round < ROUNDS; round++) {
      for (const run of runs) {
        const bench = new Benchmark(`${spec.name} ${run.engine}`, () => { run.layer.forward(input, shape); },
          { maxTime: (options.maxTime ?? 1) / ROUNDS, minSamples: 5 });
        bench.run({ async: false });
        if (bench.error) throw bench.error;
        run.samples.push(...bench.stats.sample);
        run.rme.push(bench.stats.rme);
      }
    }
    for (const run of runs) {
      const [oh, ow] = run.layer.outputSize(spec.size, spec.size);
      run.layer.dispose();
      const macs = oh * ow * spec.outChannels * spec.inChannels * spec.kernel ** 2;
      const ms = median(run.samples) * 1e3;
      const r: BenchResult = { layer: spec.name, engine: run.engine, macs, ms, gmacs: macs / ms / 1e6, rme: Math.max(...run.rme) };
      results.push(r);
      options.onResult?.(r);
    }
  }
  return results;
}

/** The results as a plain-text table with each engine's speed relative to dsconv-f32. */
export function formatTable(results: BenchResult[]): string {
  const rows = [['layer', 'engine', 'ms', 'GMAC/s', 'vs f32', '±%']];
  for (const r of results) {
    const f = results.find((x) => x.layer === r.layer && x.engine === 'dsconv-f32');
    rows.push([r.layer, r.engine, r.ms.toFixed(3), r.gmacs.toFixed(1), f ? `${(f.ms / r.ms).toFixed(2)}x` : '-', r.rme.toFixed(1)]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}
