// Calibration's two wasm kernels alone, on 1 and on 2 threads, taking turns in one process: the
// Gram sums of a 960-variable slice of 1024 samples (core/moments.ts gemmPanels) and the block
// moments of a 1x1 conv 960 -> 320 in blocks of 32 (blockQuadforms). Medians of 6 rounds after one.
// Usage: npx tsc -p tsconfig.json && node tools/moments-threads.mjs
import { loadRuntime, install, gemmPanels, panelsLength, blockQuadforms } from '../dist/core/internal.js';
import { layerDims } from '../dist/tfjs/calibrate/dims.js';

const runtimes = [await loadRuntime({ threads: 1 }), await loadRuntime({ threads: 2 })];
const D = 960, S = 1024, C = 320;
const X = Float64Array.from({ length: panelsLength(1, D, S) }, () => Math.fround(Math.random() - 0.5));
const G = new Float64Array(D * D);
const H = Float64Array.from({ length: D * D }, () => Math.random());
const Q = Float64Array.from({ length: C * D }, () => Math.floor(Math.random() * 16) - 8);
const d = layerDims({ inChannels: D, outChannels: C, kernelSize: [1, 1] }, { bits: 4, blockSize: 32, mantissaBits: 8, depthwiseBlocks: 'channels' });
const times = { 'Gram sums': [[], []], 'block moments': [[], []] };
const timed = (list, fn) => { const t0 = performance.now(); fn(); list.push(performance.now() - t0); };
for (let round = 0; round < 7; round++) {
  runtimes.forEach((r, i) => {
    install(r);
    timed(times['Gram sums'][i], () => gemmPanels(G, X, null, 1, D, D, S));
    timed(times['block moments'][i], () => blockQuadforms(H, Q, d.runs, d.scaleOf, C, D, d.K, C));
  });
}
const median = (a) => a.slice(1).sort((x, y) => x - y)[3];
for (const [name, [one, two]] of Object.entries(times)) {
  console.log(`${name}: 1 thread ${median(one).toFixed(1)} ms, 2 threads ${median(two).toFixed(1)} ms, ${(median(one) / median(two)).toFixed(2)}x`);
}
for (const r of runtimes) r.shutdown();
