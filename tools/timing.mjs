// End-to-end time per image, batch 1, median of 9 after a warm-up, in one process: the float model
// on tfjs-backend-wasm (XNNPACK), then through the plug-in with DSConv 4-bit (B = 32, m = 8).
// Models: the RDN upscaler on its 128x128 fixture, nsfwjs's MobileNetV2 at 224x224.
// Usage: npm run build && node tools/timing.mjs
import { loadTf } from '../dist/cli/model.js';
import { init } from 'dsconv';
import { useDSConv } from 'dsconv/tfjs';
import { fileIO, readImage } from 'dsconv/files';

await init();
const tf = await loadTf();
const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];
const once = (model, x) => { const t0 = performance.now(); const y = model.predict(x); y.dataSync(); y.dispose(); return performance.now() - t0; };
const UP = 'node_modules/@upscalerjs/default-model/';
const fx = readImage(UP + 'assets/fixture.png');
const cases = [
  ['RDN upscaler 128x128 -> 256x256', UP + 'models/model.json', tf.tensor4d(fx.data, [1, 128, 128, 3]), 'channels'],
  ['MobileNetV2 (nsfwjs) 224x224, depthwise taps', 'node_modules/nsfwjs/dist/models/mobilenet_v2/model.min.js', tf.randomUniform([1, 224, 224, 3], 0, 1, 'float32', 1), 'taps'],
];
console.log('| model | float XNNPACK ms | DSConv 4-bit ms | speed-up | conv weights float / packed |');
for (const [name, path, x, dw] of cases) {
  const model = await tf.loadLayersModel(fileIO(path));
  // Float and DSConv take turns, a call each per round over 9 rounds, so drift in the machine's
  // load lands on both; each is warmed up first (DSConv's first call also quantizes the layers).
  once(model, x);
  let p = useDSConv(tf, { bits: 4, depthwiseBlocks: dw, model });
  once(model, x);
  const wb = p.weightBytes();
  p.restore();
  const float = [], dsconv = [];
  for (let round = 0; round < 9; round++) {
    float.push(once(model, x));
    p = useDSConv(tf, { bits: 4, depthwiseBlocks: dw, model });
    once(model, x); // the new plug-in quantizes on its first call: not timed
    dsconv.push(once(model, x));
    p.restore();
  }
  const f = median(float), d = median(dsconv);
  console.log(`| ${name} | ${f.toFixed(1)} | ${d.toFixed(1)} | ${(f / d).toFixed(2)}x | ${(wb.float32 / wb.packed).toFixed(2)}x |`);
}
