// End-to-end time per image, batch 1, median of 9 after a warm-up, in one process: the float model
// on tfjs-backend-wasm (XNNPACK), then through the plug-in with DSConv 4-bit (B = 32, m = 8; BNs
// and ReLUs folded, the plug-in's default when given the model).
// Models: the RDN upscaler on its 128x128 fixture, nsfwjs's MobileNetV2 at 224x224.
// With --fold, BatchNorm and ReLU folding on nsfwjs's MobileNetV2 (or, with --inception, its
// InceptionV3 at 299x299): the model as shipped and with its BNs folded into the convs, each as
// float on XNNPACK (the folded one a rebuilt Keras model: the honest float baseline) and as DSConv
// 4-bit with the same folds, and DSConv with its BNs and ReLUs folded (the plug-in's default with
// `model`).
// Usage: npx tsc -p tsconfig.json && node tools/timing.mjs [--fold [--inception]]
import { parseArgs } from 'node:util';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadTf } from '../dist/cli/model.js';
import { init } from 'dsconv';
import { useDSConv, findBatchNormFolds, foldFactors } from 'dsconv/tfjs';
import { fileIO, readImage, readModelJson } from 'dsconv/files';

const { values: args } = parseArgs({ options: { fold: { type: 'boolean', default: false }, inception: { type: 'boolean', default: false } } });
await init();
const tf = await loadTf();
const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];
const once = (model, x) => { const t0 = performance.now(); const y = model.predict(x); y.dataSync(); y.dispose(); return performance.now() - t0; };
const UP = 'node_modules/@upscalerjs/default-model/';
const MNV2 = 'node_modules/nsfwjs/dist/models/mobilenet_v2/model.min.js';
const INCEPTION = 'node_modules/nsfwjs/dist/models/inception_v3/model.min.js';

/**
 * Runs each contender once per round, in turn, for 9 rounds, so drift in the machine's load lands
 * on all; each is warmed up first. A contender is a model, or [model, plug-in options]: a new
 * plug-in is made per round and its first call (which quantizes the layers) is not timed.
 */
function race(x, contenders) {
  const times = contenders.map(() => []);
  const run = (c, i, timed) => {
    if (!Array.isArray(c)) { if (timed) times[i].push(once(c, x)); else once(c, x); return; }
    const p = useDSConv(tf, c[1]);
    once(c[0], x);
    if (timed) times[i].push(once(c[0], x));
    p.restore();
  };
  contenders.forEach((c, i) => run(c, i, false));
  for (let round = 0; round < 9; round++) contenders.forEach((c, i) => run(c, i, true));
  return times.map(median);
}

/**
 * The Keras model with each foldable BN removed and its conv given weights s·W and bias s·b + t
 * (the same folds the plug-in makes, from findBatchNormFolds): what a float model with its BNs
 * folded at export would be. Its ReLUs stay layers: made its convs' activations, tfjs-layers runs
 * relu6 as relu and a broadcast minimum, slower than the ReLU layer's two kernels (171 vs 94 ms
 * per image measured here), and it fuses no relu6 into a conv; only the plug-in folds those.
 */
async function foldedFloatModel(model, path) {
  const folds = [...findBatchNormFolds(model).values()];
  const json = readModelJson(path).modelTopology;
  const top = structuredClone(json.model_config ?? json);
  const layers = top.config.layers;
  const rename = new Map(folds.map((f) => [f.batchNorm, f.conv]));
  top.config.layers = layers.filter((l) => !rename.has(l.name));
  const swap = (ref) => (rename.has(ref[0]) ? [rename.get(ref[0]), ...ref.slice(1)] : ref);
  for (const l of top.config.layers) {
    l.inbound_nodes = l.inbound_nodes.map((node) => node.map(swap));
    if (folds.some((f) => f.conv === l.name)) l.config.use_bias = true;
  }
  top.config.output_layers = top.config.output_layers.map(swap);
  const folded = await tfl.models.modelFromJSON({ modelTopology: top });
  for (const l of folded.layers) {
    const w = model.getLayer(l.name).getWeights();
    const f = folds.find((g) => g.conv === l.name);
    if (!f) { l.setWeights(w); continue; }
    const [, , cin, last] = w[0].shape;
    const channels = l.getClassName() === 'Conv2D' ? last : cin * last;
    const ff = foldFactors(channels, { gamma: f.gamma?.dataSync(), beta: f.beta?.dataSync(), mean: f.mean.dataSync(), variance: f.variance.dataSync(), epsilon: f.epsilon });
    const k = w[0].dataSync();
    const kernel = Float32Array.from(k, (v, i) => v * ff.scale[i % channels]); // HWIO: channel last
    const bias = Float32Array.from(ff.shift, (t, c) => (w[1] ? ff.scale[c] * w[1].dataSync()[c] : 0) + t);
    l.setWeights([tf.tensor(kernel, w[0].shape), tf.tensor(bias, [channels])]);
  }
  return folded;
}

if (args.fold) {
  const [name, path, size] = args.inception ? ['InceptionV3 (nsfwjs) 299x299', INCEPTION, 299] : ['MobileNetV2 (nsfwjs) 224x224', MNV2, 224];
  const model = await tf.loadLayersModel(fileIO(path));
  const folded = await foldedFloatModel(model, path);
  const x = tf.randomUniform([1, size, size, 3], 0, 1, 'float32', 1);
  const drift = Math.abs(folded.predict(x).dataSync()[0] - model.predict(x).dataSync()[0]);
  const opts = { bits: 4, depthwiseBlocks: 'taps', model };
  const [shipped, foldedF, dsFolded, dsBnOnly, dsPlain] = race(x, [
    model, folded, [model, opts], [model, { ...opts, foldActivation: false }], [model, { ...opts, foldBatchNorm: false, foldActivation: false }]]);
  console.log(`${name}, batch 1, 4-bit depthwise taps; folded float model's output differs by ${drift.toExponential(1)}`);
  console.log('| folds | XNNPACK float ms | DSConv 4-bit ms | DSConv vs shipped float | DSConv vs BN-folded float |\n|---|---:|---:|---:|---:|');
  const row = (label, f, d) => console.log(`| ${label} | ${f} | ${d.toFixed(1)} | ${(shipped / d).toFixed(2)}x | ${(foldedF / d).toFixed(2)}x |`);
  row('none (as shipped)', shipped.toFixed(1), dsPlain);
  row('BNs', foldedF.toFixed(1), dsBnOnly);
  row('BNs and ReLUs (the plug-in only)', '', dsFolded);
} else {
  const fx = readImage(UP + 'assets/fixture.png');
  const cases = [
    ['RDN upscaler 128x128 -> 256x256', UP + 'models/model.json', tf.tensor4d(fx.data, [1, 128, 128, 3]), 'channels'],
    ['MobileNetV2 (nsfwjs) 224x224, depthwise taps', MNV2, tf.randomUniform([1, 224, 224, 3], 0, 1, 'float32', 1), 'taps'],
  ];
  console.log('| model | float XNNPACK ms | DSConv 4-bit ms | speed-up | conv weights float / packed |');
  for (const [name, path, x, dw] of cases) {
    const model = await tf.loadLayersModel(fileIO(path));
    const opts = { bits: 4, depthwiseBlocks: dw, model };
    const p = useDSConv(tf, opts);
    once(model, x);
    const wb = p.weightBytes();
    p.restore();
    const [f, d] = race(x, [model, [model, opts]]);
    console.log(`| ${name} | ${f.toFixed(1)} | ${d.toFixed(1)} | ${(f / d).toFixed(2)}x | ${(wb.float32 / wb.packed).toFixed(2)}x |`);
  }
}
