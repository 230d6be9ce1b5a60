// BatchNormalization folded into DSConv: which convs a layers or graph model lets fold, the folded
// float path against tfjs's own model, the folded DSConv against the unfolded one and bit for bit
// against DSConv2d built from the folded KDS, the BN kernel skipped (and put back by restore()),
// calibration's observer seeing the folded layer, bundles of folded layers, nsfwjs MobileNetV2.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-converter';
import { init, DSConv2d, Conv2d } from 'dsconv';
import { useDSConv, calibrate, findBatchNormFolds, foldFactors, decodeBundle, encodeBundle, BUNDLE_VERSION } from 'dsconv/tfjs';
import { fileIO, readImage, cropSquare } from 'dsconv/files';
import { sqnrDb, crc32 } from 'dsconv/reference';
import { rng, randn, PHOTOS, identical, maxDiff, peak, countKernels } from '../util.js';

tf.env().set('IS_TEST', true);
await init();
await tf.setBackend('cpu');

const r = rng(5);
const tensor = (shape, scale = 1, offset = 0) => tf.tensor(randn(r, shape.reduce((a, b) => a * b, 1)).map((v) => v * scale + offset), shape);
// Layers in the plug-in's list by their weight's name (the list follows execution order).
const named = (layers, conv) => layers.find((l) => l.info.name.startsWith(`${conv}/`));

// BN parameters with some negative γ (the fold must keep the sign) and spread-out statistics.
function bnWeights(c) {
  const gamma = tensor([c], 0.6, 0.2);
  return [gamma, tensor([c], 0.3), tensor([c], 0.5), tf.abs(tensor([c], 0.8, 0.3))];
}

/**
 * conv → BN → relu; conv with bias → BN; depthwise ×2 → BN; then a 1x1 conv whose output also
 * feeds the concat (not folded) and a 1x1 conv with relu → BN (not folded).
 */
function smallModel() {
  const input = tfl.input({ shape: [10, 9, 8] });
  const L = tfl.layers;
  const c1 = L.conv2d({ name: 'c1', filters: 12, kernelSize: 3, padding: 'same', useBias: false });
  const b1 = L.batchNormalization({ name: 'b1' });
  const c2 = L.conv2d({ name: 'c2', filters: 12, kernelSize: 3, strides: 2, padding: 'same' });
  const b2 = L.batchNormalization({ name: 'b2', epsilon: 0.01 });
  const dw = L.depthwiseConv2d({ name: 'dw', kernelSize: 3, depthMultiplier: 2, padding: 'same', useBias: false });
  const b3 = L.batchNormalization({ name: 'b3', scale: false });
  const c4 = L.conv2d({ name: 'c4', filters: 8, kernelSize: 1, useBias: false });
  const b4 = L.batchNormalization({ name: 'b4' });
  const c5 = L.conv2d({ name: 'c5', filters: 8, kernelSize: 1, activation: 'relu' });
  const b5 = L.batchNormalization({ name: 'b5' });
  const h1 = L.reLU({ name: 'r1' }).apply(b1.apply(c1.apply(input)));
  const h3 = b3.apply(dw.apply(b2.apply(c2.apply(h1))));
  const y4 = c4.apply(h3);
  const out = L.concatenate().apply([b4.apply(y4), y4, b5.apply(c5.apply(h3))]);
  const m = tfl.model({ inputs: input, outputs: out });
  c1.setWeights([tensor([3, 3, 8, 12], 0.2)]);
  c2.setWeights([tensor([3, 3, 12, 12], 0.15), tensor([12], 0.2)]);
  dw.setWeights([tensor([3, 3, 12, 2], 0.3)]);
  c4.setWeights([tensor([1, 1, 24, 8], 0.2)]);
  c5.setWeights([tensor([1, 1, 24, 8], 0.2), tensor([8], 0.1)]);
  for (const [b, c] of [[b1, 12], [b2, 12], [b4, 8], [b5, 8]]) b.setWeights(bnWeights(c));
  b3.setWeights(bnWeights(24).slice(1)); // scale: false: no γ
  return m;
}
const model = smallModel();
const x = tensor([2, 10, 9, 8]);

const countBatchNorm = () => countKernels(tf, ['FusedBatchNorm']);

test('the analysis folds conv → BN, conv + bias → BN, depthwise → BN; not a conv with another consumer, nor one with relu', () => {
  const folds = findBatchNormFolds(model);
  const byConv = Object.fromEntries([...folds.values()].map((f) => [f.conv, f]));
  assert.equal(Object.keys(byConv).sort(), ['c1', 'c2', 'dw']);
  assert.equal([byConv.c1.batchNorm, byConv.c2.batchNorm, byConv.dw.batchNorm], ['b1', 'b2', 'b3']);
  // Keyed by the filter tensors the kernels will see; the conv's own bias and the BN's ε are kept.
  assert.ok(folds.get(model.getLayer('c1').getWeights()[0].dataId) === byConv.c1);
  assert.ok(byConv.c2.bias.dataId === model.getLayer('c2').getWeights()[1].dataId);
  assert.is(byConv.c1.bias, undefined);
  assert.is(byConv.c2.epsilon, 0.01);
  assert.is(byConv.dw.gamma, undefined);
  assert.is(findBatchNormFolds({ weights: [] }), null);
});

test('not folded: a depthwise conv with bias (Keras adds it as a separate op), channels-first convs, a conv feeding the output too', () => {
  const L = tfl.layers;
  const input = tfl.input({ shape: [6, 6, 4] });
  const dw = L.depthwiseConv2d({ kernelSize: 3, useBias: true }).apply(input);
  const cf = L.conv2d({ filters: 4, kernelSize: 1, dataFormat: 'channelsFirst' }).apply(input);
  const c = L.conv2d({ filters: 4, kernelSize: 1 });
  const y = c.apply(input);
  const m = tfl.model({ inputs: input, outputs: [L.batchNormalization().apply(dw), L.batchNormalization({ axis: 1 }).apply(cf), L.batchNormalization().apply(y), y] });
  assert.is(findBatchNormFolds(m).size, 0);
  m.dispose();
});

test('foldFactors: s = γ/√(var+ε), t = β − μ·s; a missing γ is 1 and β 0; bad lengths are RangeErrors', () => {
  const f = foldFactors(2, { gamma: [2, -1], beta: [0.5, 1], mean: [1, -2], variance: [3, 0.25], epsilon: 1 });
  assert.equal(Array.from(f.scale), [1, -1 / Math.sqrt(1.25)]);
  assert.equal(Array.from(f.shift), [-0.5, 1 - 2 / Math.sqrt(1.25)]);
  const g = foldFactors(1, { mean: [2], variance: [3], epsilon: 1 });
  assert.equal([g.scale[0], g.shift[0]], [0.5, -1]);
  assert.throws(() => foldFactors(3, { mean: [1, 2], variance: [1, 2, 3], epsilon: 0 }), (e) => e instanceof RangeError && /mean has 2 values for 3/.test(e.message));
});

for (const backend of ['cpu', 'wasm']) {
  test(`${backend}: folded float plug-in matches tfjs's model; the folded BNs do not run, the others do; restore() puts the kernel back`, async () => {
    await tf.setBackend(backend);
    const ref = model.predict(x).dataSync();
    const bnBefore = tf.getKernel('FusedBatchNorm', backend);
    const counter = countBatchNorm();
    const plugin = useDSConv(tf, { float: true, model });
    let y;
    try {
      y = model.predict(x).dataSync(); // the first call is already folded
      assert.is(counter.calls, 2, 'b4 and b5 only');
      assert.equal(['c1', 'c2', 'dw', 'c4', 'c5'].map((n) => named(plugin.layers, n).foldedBatchNorm), [true, true, true, false, false]);
    } finally {
      plugin.restore();
      counter.restore();
    }
    // Float32 rounding differs from tfjs's BN (it applies (x − μ)·rsqrt(var+ε)·γ + β).
    assert.ok(maxDiff(y, ref) <= 2e-5 * peak(ref), `max |diff| ${maxDiff(y, ref)} vs peak ${peak(ref)}`);
    assert.ok(tf.getKernel('FusedBatchNorm', backend) === bnBefore, 'restore() put the original FusedBatchNorm back');
    assert.ok(identical(model.predict(x).dataSync(), ref));
  });
}

test('folded DSConv: VQK of the unfolded layer, KDS scaled by s, bias s·b + t; equals DSConv2d built from them bit for bit, and the unfolded plug-in within rounding', async () => {
  await tf.setBackend('wasm');
  const q = { bits: 4, blockSize: 8 };
  let plugin = useDSConv(tf, { ...q, model, foldBatchNorm: false });
  const unfolded = model.predict(x).dataSync();
  const plain = Object.fromEntries(['c2', 'c4'].map((n) => [n, named(plugin.layers, n)]));
  assert.ok(plugin.layers.every((l) => !l.foldedBatchNorm));
  plugin.restore();
  plugin = useDSConv(tf, { ...q, model });
  const folded = model.predict(x).dataSync();
  const layers = plugin.layers;
  plugin.restore();
  // c2: its BN's factors computed here from the layers' weights.
  const b2 = model.getLayer('c2').getWeights()[1].dataSync();
  const [gamma, beta, mean, variance] = model.getLayer('b2').getWeights().map((t) => t.dataSync());
  const s = Array.from(gamma, (g, c) => g / Math.sqrt(variance[c] + 0.01));
  const l2 = named(layers, 'c2');
  assert.ok(identical(l2.q, plain.c2.q), 'the VQK is unchanged');
  const per = plain.c2.scales.length / 12;
  assert.ok(identical(l2.scales, Float32Array.from(plain.c2.scales, (v, i) => v * s[Math.floor(i / per)])));
  assert.ok(identical(l2.bias, Float32Array.from(s, (sc, c) => sc * b2[c] + (beta[c] - mean[c] * sc))));
  const l4 = named(layers, 'c4');
  assert.ok(identical(l4.scales, plain.c4.scales) && l4.bias === undefined, 'c4 is not folded');
  // The same layer by hand, on the input c2 sees (c1's output, through tfjs's BN and relu, float).
  const h1 = tfl.model({ inputs: model.inputs, outputs: model.getLayer('r1').output }).predict(x);
  plugin = useDSConv(tf, { ...q, model });
  const viaPlugin = model.getLayer('b2').apply(model.getLayer('c2').apply(h1)).dataSync();
  plugin.restore();
  const byHand = DSConv2d.fromQuantized({ q: l2.q, scales: l2.scales }, { inChannels: 12, outChannels: 12, kernelSize: 3, stride: 2, padding: 'same', bias: l2.bias, ...q, mantissaBits: 8 });
  assert.ok(identical(viaPlugin, byHand.forward(h1.dataSync(), { batch: 2, height: 10, width: 9, layout: 'NHWC' })));
  byHand.dispose();
  // Against the unfolded plug-in: the same VQK, so only float32 rounding (which can move a BFP
  // mantissa downstream) tells them apart.
  const sq = sqnrDb(unfolded, folded);
  assert.ok(sq > 40, `folded vs unfolded 4-bit: ${sq.toFixed(1)} dB`);
});

test('calibration sees the folded layer: weights s·W and bias s·b + t, and its float output is the conv + BN output', async () => {
  await tf.setBackend('cpu');
  const ref = model.predict(x).dataSync();
  const plugin = useDSConv(tf, { bits: 4, model });
  const seen = [];
  plugin.observe((call) => {
    seen.push(call);
    const layer = new Conv2d(call.weights, call.options); // the float target calibration fits to
    const y = layer.forward(call.input, call.shape);
    layer.dispose();
    return y;
  });
  const y = model.predict(x).dataSync();
  plugin.restore();
  assert.ok(maxDiff(y, ref) <= 2e-5 * peak(ref), 'observer outputs + identity BNs give the float model');
  const c1 = model.getLayer('c1').getWeights()[0].dataSync();
  const [gamma, beta, mean, variance] = model.getLayer('b1').getWeights().map((t) => t.dataSync());
  const s = Array.from(gamma, (g, c) => g / Math.sqrt(variance[c] + 0.001));
  // OIHW: output channel k of HWIO element (t, c, k).
  const w = seen[0].weights;
  for (const [t, c, k] of [[0, 0, 0], [4, 3, 7], [8, 7, 11]]) assert.is(w[(k * 8 + c) * 9 + t], Math.fround(c1[(t * 8 + c) * 12 + k] * s[k]));
  assert.ok(identical(seen[0].options.bias, Float32Array.from(s, (sc, c) => beta[c] - mean[c] * sc)));
  const c4 = seen.find((c) => c.layer.info.name === 'c4/kernel');
  assert.is(c4.options.bias, undefined, 'c4 unfolded, no bias');
});

test('calibrate() on a model with folded BNs fits the folded layers: closer to the float model, the BNs still skipped', async () => {
  await tf.setBackend('wasm');
  const images = tensor([32, 10, 9, 8]);
  const ref = model.predict(x).dataSync();
  const counter = countBatchNorm(); // under the plug-in: it counts the original kernel's calls
  const plugin = useDSConv(tf, { bits: 3, blockSize: 8, model });
  try {
    const before = sqnrDb(ref, model.predict(x).dataSync());
    await calibrate(plugin, model, images, { samples: 512 });
    counter.calls = 0;
    const after = sqnrDb(ref, model.predict(x).dataSync());
    assert.is(counter.calls, 2, 'b4 and b5 only');
    assert.ok(plugin.layers.filter((l) => l.foldedBatchNorm).length === 3);
    assert.ok(after > before + 0.5, `calibrated ${after.toFixed(1)} dB vs data-free ${before.toFixed(1)} dB`);
  } finally {
    plugin.restore();
    counter.restore();
    images.dispose();
  }
});

test('folded layers round-trip through a bundle (version 2), which then needs no BN parameters; version 1 bundles still load', async () => {
  await tf.setBackend('cpu');
  let plugin = useDSConv(tf, { bits: 5, model });
  const want = model.predict(x).dataSync();
  const bytes = plugin.toBundle();
  plugin.restore();
  const b = decodeBundle(bytes);
  assert.is(new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true), 2);
  assert.is(BUNDLE_VERSION, 2);
  assert.equal(b.layers.map((l) => [l.name.split('/')[0], l.foldedBatchNorm ?? false]).sort(), [['c1', true], ['c2', true], ['c4', false], ['c5', false], ['dw', true]]);
  assert.equal(b.layers.map((l) => l.bias?.length), [12, 12, 24, undefined, undefined]);
  // Wreck the folded BNs' parameters: a folded bundle layer must not read them.
  const other = smallModel();
  other.setWeights(model.getWeights());
  for (const n of ['b1', 'b2']) other.getLayer(n).setWeights(bnWeights(12).map((t) => tf.fill(t.shape, NaN)));
  const counter = countBatchNorm();
  for (const m of [other, undefined]) { // also with no model: layers matched by position
    counter.calls = 0;
    plugin = useDSConv(tf, { bundle: bytes, model: m });
    try {
      assert.ok(identical(other.predict(x).dataSync(), want), m ? 'with the model' : 'without it');
      assert.is(counter.calls, 2);
      assert.equal(plugin.layers.map((l) => l.foldedBatchNorm), [true, true, true, false, false]);
    } finally {
      plugin.restore();
    }
  }
  counter.restore();
  // Version 1: an unfolded bundle with its version field set back to 1 reads and runs the same.
  plugin = useDSConv(tf, { bits: 5, model, foldBatchNorm: false });
  const plain = model.predict(x).dataSync();
  const v1 = plugin.toBundle();
  plugin.restore();
  const view = new DataView(v1.buffer, v1.byteOffset);
  view.setUint32(4, 1, true);
  view.setUint32(v1.length - 4, crc32(v1.subarray(0, v1.length - 4)), true);
  plugin = useDSConv(tf, { bundle: v1, model });
  assert.ok(identical(model.predict(x).dataSync(), plain));
  plugin.restore();
});

test('a folded bundle layer shows observers (eval, calibration) its float weights s·W from the model, checked against the bundle', async () => {
  await tf.setBackend('cpu');
  let plugin = useDSConv(tf, { bits: 8, model });
  const seenLive = [];
  plugin.observe((call) => { seenLive.push(call); });
  model.predict(x).dispose();
  const bytes = plugin.toBundle();
  plugin.restore();
  plugin = useDSConv(tf, { bundle: bytes, model });
  const seen = [];
  plugin.observe((call) => { seen.push(call); });
  try {
    model.predict(x).dispose();
  } finally {
    plugin.restore();
  }
  assert.is(seen.length, seenLive.length);
  for (let i = 0; i < seen.length; i++) {
    assert.ok(identical(seen[i].weights, seenLive[i].weights), `${seen[i].layer.info.name}: the float weights of the fold`);
    assert.ok(identical(seen[i].options.bias ?? [], seenLive[i].options.bias ?? []), `${seen[i].layer.info.name}: its bias`);
  }
  // Without the model, or with one whose BN is not the bundle's, the float weights are unknown.
  const other = smallModel();
  other.setWeights(model.getWeights());
  other.getLayer('b1').setWeights(bnWeights(12));
  for (const [m, why] of [[undefined, /conv 0 comes from the bundle with its BatchNormalization folded, which options\.model does not show/], [other, /c1\/kernel\): the BatchNormalization after it in options\.model is not the one the bundle folded/]]) {
    plugin = useDSConv(tf, { bundle: bytes, model: m });
    try {
      (m ?? model).predict(x).dispose(); // running needs no float weights
      plugin.observe(() => undefined);
      assert.throws(() => (m ?? model).predict(x), why);
    } finally {
      plugin.restore();
    }
  }
});

test('bad fold options and bundles are clear errors', () => {
  assert.throws(() => useDSConv(tf, { model, foldBatchNorm: 'yes' }), (e) => e instanceof TypeError && /options\.foldBatchNorm must be a boolean/.test(e.message));
  assert.throws(() => useDSConv(tf, { foldBatchNorm: true }), (e) => e instanceof RangeError && /foldBatchNorm needs options\.model/.test(e.message));
  assert.throws(() => useDSConv(tf, { model: { weights: [] }, foldBatchNorm: true }), (e) => e instanceof RangeError && /neither a LayersModel/.test(e.message));
  const layer = { index: 0, kind: 'conv', filterShape: [1, 1, 2, 3], weightsCrc: 0, settings: { bits: 4, blockSize: 32, mantissaBits: 8, depthwiseBlocks: 'channels' }, q: new Int8Array(6), scales: new Float32Array(3) };
  const ok = encodeBundle({ meta: {}, layers: [layer] });
  assert.throws(() => useDSConv(tf, { float: true, bundle: ok }), (e) => e instanceof RangeError && /float and options\.bundle/.test(e.message));
  assert.throws(() => encodeBundle({ meta: {}, layers: [{ ...layer, foldedBatchNorm: true }] }), (e) => e instanceof RangeError && /foldedBatchNorm but has no bias/.test(e.message));
  const short = encodeBundle({ meta: {}, layers: [{ ...layer, foldedBatchNorm: true, bias: new Float32Array(2) }] });
  assert.throws(() => decodeBundle(short), (e) => e instanceof RangeError && /folded with a BatchNorm but has 2 bias values for 3 channels/.test(e.message));
});

// A graph model as the converter writes one, with FusedBatchNormV3 nodes: a fused conv (BiasAdd)
// → BN → Relu, a depthwise conv → BN, and a 1x1 conv whose output goes to a BN and to the AddV2.
function writeBnGraph(dir) {
  const b64 = (s) => Buffer.from(s).toString('base64');
  const ints = (a) => ({ list: { i: a.map(String) } });
  const conv = { T: { type: 'DT_FLOAT' }, strides: ints([1, 1, 1, 1]), padding: { s: b64('SAME') }, data_format: { s: b64('NHWC') }, dilations: ints([1, 1, 1, 1]) };
  const bn = (name, input, p) => ({ name, op: 'FusedBatchNormV3', input: [input, `${p}g`, `${p}b`, `${p}m`, `${p}v`], attr: { T: { type: 'DT_FLOAT' }, U: { type: 'DT_FLOAT' }, epsilon: { f: 0.001 }, data_format: { s: b64('NHWC') }, is_training: { b: false } } });
  const shapes = { w1: [3, 3, 3, 16], b1: [16], w2: [3, 3, 16, 1], w3: [1, 1, 16, 16] };
  for (const p of ['n1', 'n2', 'n3']) for (const k of 'gbmv') shapes[p + k] = [16];
  const gr = rng(9);
  const weights = Object.fromEntries(Object.entries(shapes).map(([k, s]) => {
    const v = randn(gr, s.reduce((a, b) => a * b, 1));
    return [k, k.endsWith('v') ? v.map((t) => Math.abs(t) + 0.2) : v.map((t) => t * 0.3)];
  }));
  const nodes = [
    { name: 'input', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [-1, -1, -1, 3].map((d) => ({ size: String(d) })) } } } },
    ...Object.entries(shapes).map(([name, shape]) => ({ name, op: 'Const', attr: { value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } }, dtype: { type: 'DT_FLOAT' } } })),
    { name: 'conv1', op: '_FusedConv2D', input: ['input', 'w1', 'b1'], attr: { ...conv, fused_ops: { list: { s: [b64('BiasAdd')] } }, num_args: { i: '1' }, epsilon: { f: 0 } } },
    bn('bn1', 'conv1', 'n1'),
    { name: 'relu1', op: 'Relu', input: ['bn1'], attr: { T: { type: 'DT_FLOAT' } } },
    { name: 'dw', op: 'DepthwiseConv2dNative', input: ['relu1', 'w2'], attr: conv },
    bn('bn2', 'dw', 'n2'),
    { name: 'conv3', op: 'Conv2D', input: ['bn2', 'w3'], attr: conv },
    bn('bn3', 'conv3', 'n3'),
    { name: 'out', op: 'AddV2', input: ['bn3', 'conv3'], attr: { T: { type: 'DT_FLOAT' } } },
  ];
  const names = Object.keys(shapes);
  writeFileSync(join(dir, 'group1-shard1of1.bin'), Buffer.concat(names.map((k) => Buffer.from(weights[k].buffer))));
  writeFileSync(join(dir, 'model.json'), JSON.stringify({
    format: 'graph-model', modelTopology: { node: nodes, library: {}, versions: { producer: 1 } },
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: names.map((name) => ({ name, shape: shapes[name], dtype: 'float32' })) }],
  }));
  return join(dir, 'model.json');
}

test('graph model: fused conv (BiasAdd) → FusedBatchNormV3 and depthwise → BN fold; a conv with two consumers does not', async () => {
  await tf.setBackend('wasm');
  const gm = await tfc.loadGraphModel(fileIO(writeBnGraph(mkdtempSync(join(tmpdir(), 'dsconv-fold-')))));
  assert.equal([...findBatchNormFolds(gm).values()].map((f) => [f.conv, f.batchNorm]), [['conv1', 'bn1'], ['dw', 'bn2']]);
  const input = tensor([2, 8, 8, 3]);
  const ref = gm.predict(input).dataSync();
  const counter = countBatchNorm();
  let plugin = useDSConv(tf, { float: true, model: gm });
  const y = gm.predict(input).dataSync();
  assert.is(counter.calls, 1, 'bn3 only');
  assert.equal(plugin.layers.map((l) => [l.info.name, l.foldedBatchNorm]), [['w1', true], ['w2', true], ['w3', false]]);
  plugin.restore();
  assert.ok(maxDiff(y, ref) <= 2e-5 * peak(ref), `max |diff| ${maxDiff(y, ref)}`);
  plugin = useDSConv(tf, { bits: 8, model: gm });
  const q8 = gm.predict(input).dataSync();
  plugin.restore();
  counter.restore();
  assert.ok(sqnrDb(ref, q8) > 30, `8-bit folded graph ${sqnrDb(ref, q8)} dB`);
});

test('nsfwjs MobileNetV2 with its 52 BNs folded: none runs; float matches tfjs, 8-bit and 4-bit keep top-1', async () => {
  await tf.setBackend('wasm');
  const mnv2 = await tfl.loadLayersModel(fileIO('node_modules/nsfwjs/dist/models/mobilenet_v2/model.min.js'));
  assert.is(findBatchNormFolds(mnv2).size, 52);
  const ims = ['chelsea.png', 'coffee.png', 'astronaut.png', 'rocket.jpg'].map((f) => cropSquare(readImage(PHOTOS + f), 224));
  const input = tf.tensor4d(Float32Array.from(ims.flatMap((im) => Array.from(im.data, (v) => v / 255))), [4, 224, 224, 3]);
  const top1 = (y) => Array.from(tf.argMax(y, 1).dataSync());
  const ref = mnv2.predict(input);
  const counter = countBatchNorm();
  try {
    for (const opts of [{ float: true }, { bits: 8 }, { bits: 4 }]) {
      counter.calls = 0;
      const plugin = useDSConv(tf, { model: mnv2, ...opts });
      const y = mnv2.predict(input);
      plugin.restore();
      assert.is(plugin.layers.length, 52);
      assert.ok(plugin.layers.every((l) => l.foldedBatchNorm));
      assert.is(counter.calls, 0, 'no BN ran');
      if (opts.float) assert.ok(maxDiff(y.dataSync(), ref.dataSync()) <= 1e-4, 'softmax within 1e-4');
      assert.equal(top1(y), top1(ref), JSON.stringify(opts));
    }
  } finally {
    counter.restore();
  }
  mnv2.dispose();
});

test('nsfwjs InceptionV3: its 94 BNs (scale: false, so no γ) fold; the float path matches tfjs with none of them run', async () => {
  await tf.setBackend('wasm');
  const inc = await tfl.loadLayersModel(fileIO('node_modules/nsfwjs/dist/models/inception_v3/model.min.js'));
  const input = tf.randomUniform([1, 299, 299, 3], 0, 1, 'float32', 3);
  const ref = inc.predict(input).dataSync();
  const counter = countBatchNorm();
  const plugin = useDSConv(tf, { float: true, model: inc });
  const y = inc.predict(input).dataSync();
  plugin.restore();
  counter.restore();
  assert.is(plugin.layers.filter((l) => l.foldedBatchNorm).length, 94);
  assert.is(counter.calls, 0);
  assert.ok(maxDiff(y, ref) <= 1e-4, 'softmax within 1e-4');
  inc.dispose();
});

test.run();
