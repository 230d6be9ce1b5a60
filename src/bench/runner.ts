// The runner behind `dsconv bench`, browser-safe (no node: modules, no peer packages): every
// engine on every suite layer, all in one process taking turns, so the ratios between them are
// measured side by side. benchmark.js does the timing; it is an optional peer dependency, loaded
// when timing starts, so the rest of dsconv/bench and apps that never time anything go without.
import type BenchmarkJs from 'benchmark';
import { init } from '../core/init.js';
import { sqnrDb } from '../core/sqnr.js';
import type { EngineInstance, Engine, Resident } from './engine.js';
import { type LayerSpec, SUITE, layerData } from './suite.js';
import { median } from './stats.js';

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
  /** Threads the engine ran on. */
  threads: number;
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

export const now = () => performance.now();

let benchmarkJs: Promise<typeof BenchmarkJs> | undefined;

/** benchmark.js, loaded once; where it is not installed, an Error saying how to install it. */
export function loadBenchmark(): Promise<typeof BenchmarkJs> {
  benchmarkJs ??= import('benchmark').then((m: { default?: typeof BenchmarkJs }) => m.default ?? (m as unknown as typeof BenchmarkJs), (e: unknown) => {
    benchmarkJs = undefined;
    const missing = (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND';
    throw new Error(`timing needs benchmark.js, an optional peer dependency of dsconv: npm install benchmark${missing ? '' : ` (${(e as Error).message})`}`);
  });
  return benchmarkJs;
}

/** Times one engine for up to `maxTime` seconds; resolves with benchmark.js's samples (seconds per call). */
function timeOnce(Benchmark: typeof BenchmarkJs, name: string, inst: EngineInstance, isAsync: boolean, options: { maxTime: number; minTime?: number; minSamples: number }): Promise<{ sample: number[]; rme: number }> {
  return new Promise((resolve, reject) => {
    const done = (b: BenchmarkJs) => (b.error ? reject(b.error) : resolve({ sample: b.stats.sample, rme: b.stats.rme }));
    if (!isAsync) {
      done(new Benchmark(name, () => { inst.run(); }, options).run({ async: false }));
      return;
    }
    const bench: BenchmarkJs = new Benchmark(name, (deferred: { resolve(): void }) => {
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
  const Benchmark = await loadBenchmark();
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
        runs.push({ engine, inst, isAsync: false, prepMs: 0, sqnr: 0, samples: [] as number[], rme: [] as number[], resident: { bytes: 0, note: '' }, threads: 1 });
        const run = runs[runs.length - 1];
        const y = await inst.output();
        run.prepMs = now() - t0;
        run.threads = engine.threads();
        run.sqnr = sqnrDb(data.reference, y);
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
          const { sample, rme } = await timeOnce(Benchmark, `${spec.name} ${run.engine.id}`, run.inst, run.isAsync,
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
        threads: run.threads,
      };
    });
    all.push(...results);
    options.onLayer?.(results);
  }
  return all;
}
