// End-to-end time per image, batch 1, median of 9 after a warm-up, in one process: the float model
// on tfjs-backend-wasm (XNNPACK), then through the plug-in with DSConv 4-bit (B = 32, m = 8; BNs,
// ReLUs and padding layers folded, the plug-in's default when given the model).
// Models: the RDN upscaler on its 128x128 fixture, nsfwjs's MobileNetV2 at 224x224.
// With --fold, the folds one by one on nsfwjs's MobileNetV2 (or, with --inception, its
// InceptionV3 at 299x299): the model as shipped, with its BNs folded into the convs, and with its
// padding layers folded too, each as float on XNNPACK (the folded ones rebuilt Keras models: the
// honest float baselines) and as DSConv 4-bit with the same folds; then DSConv with its ReLUs
// folded as well, which only the plug-in does.
// Usage: npx tsc -p tsconfig.json && node tools/timing.mjs [--fold [--inception]]
import { parseArgs } from 'node:util';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadTf } from '../dist/cli/model.js';
import { samePad } from '../dist/core/geometry.js';
import { init } from 'dsconv';
import { useDSConv, findBatchNormFolds, findPaddingFolds, foldFactors } from 'dsconv/tfjs';
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
 * folded at export would be. With `pads`, also each ZeroPadding2D the plug-in folds
 * (findPaddingFolds) whose zeros are TensorFlow's 'same' padding of its conv at this input size
 * removed and the conv made 'same' (XNNPACK pads inside the conv): every padding layer of
 * MobileNetV2 at 224x224. Its ReLUs stay layers: made its convs' activations, tfjs-layers runs
 * relu6 as relu and a broadcast minimum, slower than the ReLU layer's two kernels (171 vs 94 ms
 * per image measured here), and it fuses no relu6 into a conv; only the plug-in folds those.
 */
async function foldedFloatModel(model, path, pads = false) {
  const folds = [...findBatchNormFolds(model).values()];
  const json = readModelJson(path).modelTopology;
  const top = structuredClone(json.model_config ?? json);
  const layers = top.config.layers;
  const rename = new Map(folds.map((f) => [f.batchNorm, [f.conv, 0, 0, {}]]));
  const same = new Set();
  for (const f of pads ? findPaddingFolds(model) : []) {
    const [, h, w] = model.getLayer(f.padding).inboundNodes[0].inputShapes[0];
    const c = model.getLayer(f.conv).getConfig();
    if (![...samePad(h, c.kernelSize[0], c.strides[0], c.dilationRate[0]), ...samePad(w, c.kernelSize[1], c.strides[1], c.dilationRate[1])]
      .every((v, i) => v === f.pads[i])) continue;
    rename.set(f.padding, layers.find((l) => l.name === f.padding).inbound_nodes[0][0]);
    same.add(f.conv);
  }
  top.config.layers = layers.filter((l) => !rename.has(l.name));
  const swap = (ref) => (rename.has(ref[0]) ? [...rename.get(ref[0]).slice(0, 3), ...ref.slice(3)] : ref);
  for (const l of top.config.layers) {
    l.inbound_nodes = l.inbound_nodes.map((node) => node.map(swap));
    if (folds.some((f) => f.conv === l.name)) l.config.use_bias = true;
    if (same.has(l.name)) l.config.padding = 'same';
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
  const foldedPads = await foldedFloatModel(model, path, true);
  const x = tf.randomUniform([1, size, size, 3], 0, 1, 'float32', 1);
  const y = model.predict(x).dataSync();
  const drift = (m) => Math.max(...m.predict(x).dataSync().map((v, i) => Math.abs(v - y[i]))).toExponential(1);
  const opts = { bits: 4, depthwiseBlocks: 'taps', model };
  const none = { foldBatchNorm: false, foldActivation: false, foldPadding: false };
  const [shipped, foldedF, foldedPF, dsAll, dsBnRelu, dsBnPad, dsBn, dsPlain] = race(x, [
    model, folded, foldedPads, [model, opts], [model, { ...opts, foldPadding: false }], [model, { ...opts, foldActivation: false }],
    [model, { ...opts, foldActivation: false, foldPadding: false }], [model, { ...opts, ...none }]]);
  console.log(`${name}, batch 1, 4-bit depthwise taps; the folded float models' outputs differ by ${drift(folded)} (BNs), ${drift(foldedPads)} (BNs and pads)`);
  console.log('| folds | XNNPACK float ms | DSConv 4-bit ms | DSConv vs shipped float | vs BN-folded float | vs BN+pad-folded float |\n|---|---:|---:|---:|---:|---:|');
  const row = (label, f, d) => console.log(`| ${label} | ${f} | ${d.toFixed(1)} | ${(shipped / d).toFixed(2)}x | ${(foldedF / d).toFixed(2)}x | ${(foldedPF / d).toFixed(2)}x |`);
  row('none (as shipped)', shipped.toFixed(1), dsPlain);
  row('BNs', foldedF.toFixed(1), dsBn);
  row('BNs and pads', foldedPF.toFixed(1), dsBnPad);
  row('BNs and ReLUs (the plug-in only)', '', dsBnRelu);
  row('BNs, ReLUs and pads (the plug-in\'s default)', '', dsAll);
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
