// Calibration's time and memory against plain inference, in one process, as `dsconv quantize
// --calibrate` runs it (images decoded and streamed DEFAULT_BATCH_SIZE at a time): per round, one
// float pass (tfjs-backend-wasm) and one data-free DSConv pass over the same images, then the
// calibration (time per phase from its progress reports), then the RSS. The figures of
// docs/BENCHMARKS.md#calibration. Usage:
//   npm run build && node tools/calibration-time.mjs DIR [COUNT=64] [ROUNDS=1] [BITS=4] [SAMPLES=2048] [MODEL]
// MODEL defaults to nsfwjs's MobileNetV2 (depthwise 'taps'); DIR holds at least COUNT PNG/JPEG images.
import { init } from 'dsconv';
import { useDSConv, calibrate, DEFAULT_BATCH_SIZE } from 'dsconv/tfjs';
import { loadTf, loadModel, readImages, imageBatches, touch } from '../dist/cli/model.js';

const [dir, count = '64', rounds = '1', bits = '4', samples = '2048', path = 'node_modules/nsfwjs/dist/models/mobilenet_v2/model.min.js'] = process.argv.slice(2);
if (!dir) throw new Error('usage: node tools/calibration-time.mjs DIR [COUNT] [ROUNDS] [BITS] [SAMPLES] [MODEL]');
const N = Number(count);
await init();
const tf = await loadTf();
const l = await loadModel(tf, path);
const stream = () => {
  const read = { files: [], crcs: [], skipped: [] };
  return imageBatches(tf, readImages(dir, N, l.size, [0, 1], false, read), l.size, DEFAULT_BATCH_SIZE);
};
const mb = (bytes) => (bytes / 2 ** 20).toFixed(0);
const peak = () => process.resourceUsage().maxRSS * 1024;

/** Seconds for one pass over the images, batch by batch, each output read back. */
function pass() {
  const t0 = performance.now();
  for (const x of stream()) {
    const y = l.run(x);
    y.dataSync();
    y.dispose();
    x.dispose();
  }
  return (performance.now() - t0) / 1000;
}

const options = { bits: Number(bits), depthwiseBlocks: 'taps', model: l.model };
pass(); // warm-up (XNNPACK's first call)
console.log(`${path}, ${N} images of ${l.size.join('x')} from ${dir}, ${bits}-bit, ${samples} samples; RSS before: ${mb(process.memoryUsage().rss)} MB, peak so far ${mb(peak())} MB`);
for (let r = 0; r < Number(rounds); r++) {
  const float = pass();
  const plugin = useDSConv(tf, options);
  touch(l); // the plug-in quantizes on its first call: not timed
  const quant = pass();
  // Time between progress reports, charged to the phase of the report that ends it.
  const phases = { float: 0, quantized: 0, final: 0 };
  let last = performance.now(), rssMax = 0, rssFirstBatch = 0;
  const t0 = last;
  const rep = await calibrate(plugin, l.run, stream, {
    samples: Number(samples), count: N,
    onProgress: (p) => {
      const now = performance.now();
      phases[p.phase] += now - last;
      last = now;
      const rss = process.memoryUsage().rss;
      rssMax = Math.max(rssMax, rss);
      if (p.batch === 0) rssFirstBatch = rssMax;
    },
  });
  const cal = (performance.now() - t0) / 1000;
  const after = pass();
  plugin.restore();
  const s = (v) => `${(v / 1000).toFixed(1)} s`;
  console.log(`round ${r + 1}: float pass ${float.toFixed(1)} s, data-free DSConv pass ${quant.toFixed(1)} s, calibrated DSConv pass ${after.toFixed(1)} s; ` +
    `calibration ${cal.toFixed(1)} s = ${(cal / (float + quant)).toFixed(2)}x float + DSConv (${rep.images} images, ${rep.batches} batches, target '${rep.target}'; ` +
    `float passes ${s(phases.float)}, quantized passes with fits ${s(phases.quantized)}, final fits ${s(phases.final)})`);
  console.log(`  RSS sampled at each progress report: max ${mb(rssMax)} MB (${mb(rssFirstBatch)} MB by the end of the first batch); process peak ${mb(peak())} MB; ` +
    `fits per conv ${Math.min(...rep.layers.map((x) => x.fits))}-${Math.max(...rep.layers.map((x) => x.fits))}`);
}
