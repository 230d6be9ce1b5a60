// Calibrated MobileNetV2 (nsfwjs) against float, in one process, as `dsconv quantize --calibrate`
// and `dsconv eval` measure it (the same figures for the same settings): 4-bit, depthwise 'taps',
// calibrated on the crops of CAL (streamed 8 at a time), top-1 agreement and logits SQNR on those
// of EVAL; with EIGHT (conv indices, e.g. 1 or 0,1) those convs are kept at 8 bits. The figures of
// docs/BENCHMARKS.md#calibration. BNs are folded (the plug-in's default with the model); FOLD=0
// keeps them apart. Usage (crops from tools/photo-crops.mjs):
//   npm run build && [FOLD=0] node tools/calibration-fidelity.mjs CAL EVAL [SEED=1] [EIGHT] [SAMPLES=2048]
import { init, sqnrDb } from 'dsconv';
import { useDSConv, calibrate, DEFAULT_BATCH_SIZE } from 'dsconv/tfjs';
import { listImages } from 'dsconv/files';
import { loadTf, loadModel, readImages, imageBatches, loadImages, touch } from '../dist/cli/model.js';

const [cal, evalDir, seed = '1', eight = '', samples = '2048'] = process.argv.slice(2);
if (!cal || !evalDir) throw new Error('usage: node tools/calibration-fidelity.mjs CAL EVAL [SEED] [EIGHT] [SAMPLES]');
const M = 'node_modules/nsfwjs/dist/models/mobilenet_v2/model.min.js';
await init();
const tf = await loadTf();
const l = await loadModel(tf, M);
const ev = loadImages(tf, evalDir, 64, l.size, [0, 1]);
const n = ev.files.length;
const logits = () => {
  const out = [];
  for (let i = 0; i < n; i += 8) {
    const x = tf.slice(ev.tensor, [i, 0, 0, 0], [Math.min(8, n - i), -1, -1, -1]);
    const y = l.logits(x);
    out.push(...y.dataSync());
    y.dispose();
    x.dispose();
  }
  return Float32Array.from(out);
};
touch(l);
const float = logits();
const at8 = eight ? eight.split(',').map(Number) : [];
const plugin = useDSConv(tf, { bits: 4, depthwiseBlocks: 'taps', model: l.model, foldBatchNorm: process.env.FOLD !== '0', layers: ({ index }) => (at8.includes(index) ? { bits: 8 } : true) });
touch(l);
const count = Math.min(64, listImages(cal).length);
const t0 = performance.now();
const rep = await calibrate(plugin, l.run, () => imageBatches(tf, readImages(cal, count, l.size, [0, 1], false, { files: [], crcs: [], skipped: [] }), l.size, DEFAULT_BATCH_SIZE),
  { samples: Number(samples), count, seed: Number(seed) });
const seconds = (performance.now() - t0) / 1000;
const q = logits();
const k = float.length / n, argmax = (a) => a.indexOf(Math.max(...a));
let agree = 0;
for (let i = 0; i < n; i++) if (argmax(Array.from(float.subarray(i * k, i * k + k))) === argmax(Array.from(q.subarray(i * k, i * k + k)))) agree++;
const wb = plugin.weightBytes();
plugin.restore();
console.log(`seed ${seed}${at8.length ? `, convs ${at8.join(',')} at 8 bits` : ''}: top-1 agreement ${(100 * agree / n).toFixed(2)}%, logits SQNR ${sqnrDb(float, q).toFixed(2)} dB; ` +
  `conv weights ${wb.packed} B packed (${(wb.float32 / wb.packed).toFixed(2)}x); calibration ${seconds.toFixed(1)} s (${rep.images} images, target '${rep.target}')`);
