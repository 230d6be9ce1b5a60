// Time per TF.js kernel over whole images of nsfwjs's MobileNetV2 (224x224, batch 1) on
// tfjs-backend-wasm: every kernel registered for wasm is wrapped with a timer, and the calls of
// 10 images after a warm-up are summed per kernel name, as ms per image. Through the plug-in
// (DSConv 4-bit, depthwise 'taps', the folds it makes by default with the model) unless --float;
// --no-folds turns the plug-in's folds off. Kernels only: tfjs-layers' own JavaScript between
// them is the wall time's rest.
// Usage: npx tsc -p tsconfig.json && node tools/op-times.mjs [--float] [--no-folds] [--top N]
import { parseArgs } from 'node:util';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadTf } from '../dist/cli/model.js';
import { init } from 'dsconv';
import { useDSConv } from 'dsconv/tfjs';
import { fileIO } from 'dsconv/files';

const { values: opt } = parseArgs({ options: {
  float: { type: 'boolean', default: false }, 'no-folds': { type: 'boolean', default: false }, top: { type: 'string', default: '12' },
} });
await init();
const tf = await loadTf();
const model = await tfl.loadLayersModel(fileIO('node_modules/nsfwjs/dist/models/mobilenet_v2/model.min.js'));
const x = tf.randomUniform([1, 224, 224, 3], 0, 1, 'float32', 1);
const off = { foldBatchNorm: false, foldActivation: false, foldPadding: false };
const plugin = opt.float ? null : useDSConv(tf, { bits: 4, depthwiseBlocks: 'taps', model, ...(opt['no-folds'] ? off : {}) });
const run = () => { const y = model.predict(x); y.dataSync(); y.dispose(); };
for (let i = 0; i < 5; i++) run();

const times = new Map(); // kernel name -> [ms, calls]
const wrapped = [];
for (const k of tf.getKernelsForBackend('wasm')) {
  tf.unregisterKernel(k.kernelName, 'wasm');
  tf.registerKernel({ ...k, kernelFunc: (args) => {
    const t0 = performance.now();
    try { return k.kernelFunc(args); } finally {
      const e = times.get(k.kernelName) ?? [0, 0];
      e[0] += performance.now() - t0; e[1]++;
      times.set(k.kernelName, e);
    }
  } });
  wrapped.push(k);
}
for (let i = 0; i < 3; i++) run();
times.clear();
const N = 10;
const t0 = performance.now();
for (let i = 0; i < N; i++) run();
const wall = (performance.now() - t0) / N;
for (const k of wrapped) { tf.unregisterKernel(k.kernelName, 'wasm'); tf.registerKernel(k); }
plugin?.restore();

const rows = [...times].sort((a, b) => b[1][0] - a[1][0]);
const total = rows.reduce((s, [, [ms]]) => s + ms, 0) / N;
console.log(`nsfwjs MobileNetV2 224x224, ${opt.float ? 'float (XNNPACK)' : `DSConv 4-bit${opt['no-folds'] ? ', no folds' : ''}`}: `
  + `${wall.toFixed(1)} ms per image, ${total.toFixed(1)} ms of it in kernels`);
console.log('| kernel | ms per image | calls per image |\n|---|---:|---:|');
for (const [name, [ms, calls]] of rows.slice(0, Number(opt.top))) console.log(`| ${name} | ${(ms / N).toFixed(2)} | ${calls / N} |`);
