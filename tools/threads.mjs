// Thread scaling of dsconv's own engines, measured side by side in one process: a runtime per
// thread count (1 is the single-threaded build, as init({ threads: 1 }) loads it), the same layer
// built on each, the counts taking turns over interleaved rounds so that load lands on all alike.
// With --overhead, the split's fixed cost instead: 1x1 layers from 2^14 to 2^22 multiply-
// accumulates on 2 threads, split against unsplit, which is what sets SPLIT_MIN_MACS. With
// --breakdown, each layer's one-thread call is also split into its time in wasm (the phases the
// threads share) and the rest (copying the input in and the output out, JavaScript: the calling
// thread's alone), and the speed-up that bound allows at each count is printed beside the measured.
//
//   node tools/threads.mjs [--threads N] [--layers A,B] [--rounds R] [--overhead] [--breakdown]
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { init, DSConv2d, Conv2d, profile } from 'dsconv';
import { SUITE, selectLayers, convOptions, layerData } from 'dsconv/bench';
import { loadRuntime, install } from '../dist/core/internal.js';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: String(Math.min(4, availableParallelism())) },
    layers: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    overhead: { type: 'boolean', default: false },
    breakdown: { type: 'boolean', default: false },
  },
});
const maxThreads = Number(values.threads);
await init({ threads: 1 }); // layerData() inits; the runtimes below are swapped in by hand
const rounds = Number(values.rounds);
const runtimes = [];
for (let t = 1; t <= maxThreads; t++) {
  const r = await loadRuntime({ threads: t });
  if (r.threads !== t) throw new Error(`asked for ${t} threads, got ${r.threads}: ${r.threadsReason}`);
  runtimes.push(r);
}

/** ms per call of `run` over at least `ms` ms, after a warm-up call, and the fastest call's. */
function time(run, ms = 150) {
  run();
  let n = 0, best = Infinity;
  const t0 = performance.now();
  for (let t = t0, now = t0; now - t0 < ms || n < 3; t = now) {
    run();
    n++;
    now = performance.now();
    best = Math.min(best, now - t);
  }
  return { mean: (performance.now() - t0) / n, best };
}

/** Of one unsplit call, ms in wasm and ms in all (20 calls profiled, after a warm-up). */
function serialShare(run) {
  run();
  const t0 = performance.now();
  const p = profile(() => { for (let i = 0; i < 20; i++) run(); });
  const total = (performance.now() - t0) / 20;
  const wasm = Object.values(p.ms).reduce((a, b) => a + b, 0) / 20;
  return { wasm, total };
}

/**
 * `make` builds the layer on each runtime; the counts take turns over the rounds. Medians, and
 * with --breakdown the one-thread call's wasm and total ms (medians over the rounds).
 */
function scale(make, input, shape) {
  const runs = runtimes.map((r) => {
    install(r);
    const l = make();
    const [oh, ow] = l.outputSize(shape.height, shape.width);
    const out = new Float32Array(l.geometry.outChannels * oh * ow);
    return { r, l, run: () => l.forward(input, shape, out) };
  });
  const samples = runs.map(() => []);
  const shares = [];
  for (let k = 0; k < rounds; k++) {
    runs.forEach((x, i) => { install(x.r); samples[i].push(time(x.run)); });
    if (values.breakdown) { install(runs[0].r); shares.push(serialShare(runs[0].run)); }
  }
  for (const x of runs) { install(x.r); x.l.dispose(); }
  const one = shares.length ? { wasm: median(shares.map((s) => s.wasm)), total: median(shares.map((s) => s.total)) } : undefined;
  return { ms: samples.map((xs) => median(xs.map((x) => x.mean))), best: samples.map((xs) => Math.min(...xs.map((x) => x.best))), one };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

console.log(`node ${process.version}, ${runtimes[0].build} build, 1..${maxThreads} threads, ${availableParallelism()} cores reported; `
  + `${rounds} interleaved rounds, medians`);
if (values.overhead) {
  const r = runtimes[1] ?? runtimes[0];
  install(r);
  console.log(`\nsplit cost: 1x1 DSConv int8, 64 -> 64 channels, n pixels (MACs = n * 4096); ms unsplit, ms split over ${r.threads}, ratio`);
  for (let e = 14; e <= 22; e++) {
    const pixels = 2 ** e / 4096;
    const w = new Float32Array(64 * 64).map((_, i) => ((i * 7919) % 13) / 13 - 0.5);
    const l = DSConv2d.fromFloat(w, { inChannels: 64, outChannels: 64, kernelSize: 1, bits: 8 });
    const x = new Float32Array(64 * pixels).map((_, i) => ((i * 104729) % 17) / 17 - 0.5);
    const shape = { height: 1, width: pixels, layout: 'NHWC' };
    const out = new Float32Array(64 * pixels);
    const run = () => l.forward(x, shape, out);
    const split = [[], []];
    for (let k = 0; k < rounds; k++) {
      [Infinity, 0].forEach((min, i) => { r.splitMinMacs = min; split[i].push(time(run, 100).mean); });
    }
    const [a, b] = split.map(median);
    console.log(`2^${e} MACs (${pixels} px)`.padEnd(22), a.toFixed(4).padStart(9), b.toFixed(4).padStart(9), `${(a / b).toFixed(2)}x`.padStart(7));
    l.dispose();
  }
} else {
  const layers = values.layers ? selectLayers(values.layers.split(',')) : SUITE;
  const head = runtimes.map((r) => `${r.threads} thr`.padStart(8)).join('') + '   speed-up at each count'
    + '   (of the fastest calls)' + (values.breakdown ? '   | outside wasm, bound at each count' : '');
  console.log(`\nms per call (NHWC, batch 1)\n${'layer'.padEnd(32)}${'engine'.padEnd(13)}${head}`);
  for (const spec of layers) {
    const d = await layerData(spec);
    const input = new Float32Array(d.input.length);
    const hw = spec.size * spec.size;
    for (let c = 0; c < spec.inChannels; c++) for (let p = 0; p < hw; p++) input[p * spec.inChannels + c] = d.input[c * hw + p];
    const shape = { height: spec.size, width: spec.size, layout: 'NHWC' };
    for (const [id, make] of [
      ['dsconv-int4', () => DSConv2d.fromFloat(d.weights, { ...convOptions(spec, d.bias), bits: 4, blockSize: 32, mantissaBits: 8 })],
      ['dsconv-int8', () => DSConv2d.fromFloat(d.weights, { ...convOptions(spec, d.bias), bits: 8, blockSize: 32, mantissaBits: 8 })],
      ['dsconv-f32', () => new Conv2d(d.weights, convOptions(spec, d.bias))],
    ]) {
      const { ms, best, one } = scale(make, input, shape);
      // Amdahl: the time outside wasm stays on the calling thread, the rest divides by the count.
      const bound = one ? `   | ${(100 * (1 - one.wasm / one.total)).toFixed(1).padStart(4)}%  `
        + runtimes.map((r) => `${(one.total / (one.total - one.wasm + one.wasm / r.threads)).toFixed(2)}x`).join(' ') : '';
      console.log(`${spec.name.padEnd(32)}${id.padEnd(13)}${ms.map((m) => m.toFixed(3).padStart(8)).join('')}   ${ms.map((m) => `${(ms[0] / m).toFixed(2)}x`).join(' ')}`
        + `   (fastest calls: ${best.map((m) => `${(best[0] / m).toFixed(2)}x`).join(' ')})${bound}`);
    }
  }
}
for (const r of runtimes) r.shutdown();
