// The TF.js plug-in: each replaced kernel equals the same DSConv layer run through the package
// API (bit for bit), on the cpu and wasm backends; the per-layer rule, the cache, restore();
// a graph model and a layers model loaded from files; the upscaler's golden pair.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-converter';
import { init, getInfo, DSConv2d, quantizeWeights } from 'dsconv';
import { useDSConv } from 'dsconv/tfjs';
import { fileIO } from 'dsconv/files';
import { readImage, psnr, cropSquare } from 'dsconv/files';
import { sqnrDb, dsconvReference, nhwcToNchw } from 'dsconv/reference';
import { writeGraphModel } from './graphmodel.js';
import { rng, randn, PHOTOS, identical, onRuntime } from '../util.js';

tf.env().set('IS_TEST', true); // silences tfjs's "install tfjs-node" banner
await init();
await tf.setBackend('cpu');

// HWIO (or [kh][kw][cin][mult] for depthwise) -> OIHW, written out here independently of the plug-in.
function oihw(f, [kh, kw, cin, last], depthwise) {
  const out = new Float32Array(f.length);
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let c = 0; c < cin; c++) for (let k = 0; k < last; k++) {
    const v = f[((i * kw + j) * cin + c) * last + k];
    if (depthwise) out[((c * last + k) * kh + i) * kw + j] = v;
    else out[((k * cin + c) * kh + i) * kw + j] = v;
  }
  return out;
}

const r = rng(11);
const tensor = (shape, scale = 1) => tf.tensor(randn(r, shape.reduce((a, b) => a * b, 1)).map((v) => v * scale), shape);

// Each case: a tfjs call and the DSConv options that describe it.
const x = tensor([2, 13, 11, 40]);
const wc = tensor([3, 3, 40, 24], 0.1);
const w1 = tensor([1, 1, 40, 16], 0.1);
const wd = tensor([3, 3, 40, 2], 0.2);
const wd1 = tensor([3, 3, 40, 1], 0.2);
const bias24 = tensor([24], 0.1), bias80 = tensor([80], 0.1);
const base = { inChannels: 40, outChannels: 24, kernelSize: 3 };
const CASES = [
  { name: 'conv2d stride 2 same', run: () => tf.conv2d(x, wc, 2, 'same'), w: wc, opts: { ...base, stride: 2, padding: 'same' } },
  { name: 'conv2d explicit pad, dilation 2', run: () => tf.conv2d(x, wc, 1, [[0, 0], [1, 2], [0, 3], [0, 0]], 'NHWC', 2), w: wc, opts: { ...base, dilation: 2, padding: [1, 0, 2, 3] } },
  { name: 'fused conv2d bias relu6', run: () => tf.fused.conv2d({ x, filter: wc, bias: bias24, strides: 1, pad: 'valid', activation: 'relu6' }), w: wc, opts: { ...base, bias: bias24.dataSync(), activation: 'relu6' } },
  { name: 'fused 1x1 conv relu', run: () => tf.fused.conv2d({ x, filter: w1, strides: 1, pad: 'same', activation: 'relu' }), w: w1, opts: { inChannels: 40, outChannels: 16, kernelSize: 1, activation: 'relu' } },
  { name: 'depthwise multiplier 2 stride 2', run: () => tf.depthwiseConv2d(x, wd, 2, 'same'), w: wd, dw: true, opts: { inChannels: 40, outChannels: 80, groups: 40, kernelSize: 3, stride: 2, padding: 'same' } },
  { name: 'fused depthwise bias relu', run: () => tf.fused.depthwiseConv2d({ x, filter: wd, bias: bias80, strides: 1, pad: 'valid', activation: 'relu' }), w: wd, dw: true, opts: { inChannels: 40, outChannels: 80, groups: 40, kernelSize: 3, bias: bias80.dataSync(), activation: 'relu' } },
  // One channel per group, filling the lanes: on the wasm backend the layer reads x itself, in
  // place, and x must stay as it is.
  { name: 'depthwise multiplier 1', run: () => tf.depthwiseConv2d(x, wd1, 1, 'same'), w: wd1, dw: true, opts: { inChannels: 40, outChannels: 40, groups: 40, kernelSize: 3, padding: 'same' } },
];
const x0 = x.dataSync().slice();

for (const backend of ['cpu', 'wasm']) {
  for (const q of [{ bits: 4, blockSize: 32, mantissaBits: 8 }, { bits: 8, blockSize: 16, mantissaBits: 6, depthwiseBlocks: 'taps' }]) {
    test(`${backend}: every replaced kernel equals DSConv2d through the package API (bits ${q.bits}, B ${q.blockSize}, m ${q.mantissaBits})`, async () => {
      await tf.setBackend(backend);
      const plugin = useDSConv(tf, q);
      // On the wasm backend (one thread) the layers live on tfjs's heap: dsconv's own does not grow.
      const onTfjsHeap = backend === 'wasm' && getInfo().threads === 1;
      const grew = [];
      try {
        for (const c of CASES) {
          const used = getInfo().usedBytes;
          const y = c.run();
          grew.push(getInfo().usedBytes > used);
          const qopts = { ...q, depthwiseBlocks: c.dw ? (q.depthwiseBlocks ?? 'channels') : 'channels' };
          const layer = DSConv2d.fromFloat(oihw(c.w.dataSync(), c.w.shape, c.dw), { ...c.opts, ...qopts });
          const want = layer.forward(x.dataSync(), { batch: 2, height: 13, width: 11, layout: 'NHWC' });
          assert.equal(y.shape.slice(1, 3), layer.outputSize(13, 11), c.name);
          assert.ok(identical(y.dataSync(), want), `${c.name}: plug-in output differs from DSConv2d`);
          layer.dispose();
          y.dispose();
        }
        // One entry per distinct filter, quantized once however often it runs.
        assert.equal(plugin.layers.map((l) => l.info.filterShape.join('x')), ['3x3x40x24', '1x1x40x16', '3x3x40x2', '3x3x40x1'], 'distinct filters');
        assert.equal(plugin.layers.map((l) => l.calls), [3, 1, 2, 1]);
        // Each case is a new geometry, so a new layer: in dsconv's heap, or else on tfjs's.
        assert.equal(grew, CASES.map(() => !onTfjsHeap), 'dsconv\'s heap grew for each new layer, unless on tfjs\'s');
        assert.ok(identical(x.dataSync(), x0), 'the input tensor is unchanged');
        const qw = quantizeWeights(oihw(wc.dataSync(), wc.shape, false), { outChannels: 24, groupChannels: 40, kh: 3, kw: 3 }, q.bits, q.blockSize, 'channels');
        assert.ok(identical(plugin.layers[0].q, qw.q) && identical(plugin.layers[0].scales, qw.scales));
      } finally {
        plugin.restore();
      }
    });
  }
}

test('wasm, 2 threads: small calls run on tfjs\'s heap, a call worth the copies splits over the workers; outputs as on 1 thread', async () => {
  await tf.setBackend('wasm');
  const xb = tensor([1, 48, 48, 64]);
  const wb = tensor([3, 3, 64, 64], 0.05);
  const big = () => tf.conv2d(xb, wb, 1, 'same'); // 85M MACs, 72 per byte copied: split
  const small = () => tf.conv2d(x, wc, 2, 'same'); // 0.7M MACs: on tfjs's heap
  const q = { bits: 4 };
  const outputs = (plugin) => {
    try {
      return [big().dataSync(), small().dataSync()];
    } finally {
      plugin.restore();
    }
  };
  const want = outputs(useDSConv(tf, q));
  await onRuntime({ threads: 2 }, (rt2) => {
    assert.is(rt2.threads, 2);
    const plugin = useDSConv(tf, q);
    try {
      let runs = rt2.pool.runs, used = rt2.heap.usedBytes;
      assert.ok(identical(small().dataSync(), want[1]), 'small call');
      assert.is(rt2.pool.runs, runs, 'the small call did not run on the workers');
      assert.is(rt2.heap.usedBytes, used, 'nor in dsconv\'s memory');
      runs = rt2.pool.runs;
      assert.ok(identical(big().dataSync(), want[0]), 'big call');
      assert.ok(rt2.pool.runs > runs, 'the big call ran on the workers');
      assert.ok(rt2.heap.usedBytes > used, 'its layer is in dsconv\'s memory');
    } finally {
      plugin.restore();
    }
  });
});

test('NCHW (dataFormat channels first) in and out, as DSConv2d with layout NCHW', async () => {
  await tf.setBackend('cpu');
  const xc = tensor([2, 40, 9, 7]);
  const ref = tf.conv2d(xc, wc, 2, 'same', 'NCHW');
  const plugin = useDSConv(tf);
  const y = tf.conv2d(xc, wc, 2, 'same', 'NCHW');
  plugin.restore();
  assert.equal(y.shape, ref.shape);
  const layer = DSConv2d.fromFloat(oihw(wc.dataSync(), wc.shape, false), { ...base, stride: 2, padding: 'same' });
  assert.ok(identical(y.dataSync(), layer.forward(xc.dataSync(), { batch: 2, height: 9, width: 7, layout: 'NCHW' })));
  assert.ok(sqnrDb(ref.dataSync(), y.dataSync()) > 15);
  layer.dispose();
});

test('activations tfjs fuses but DSConv does not (leakyrelu, prelu, elu, sigmoid) are applied after it', async () => {
  await tf.setBackend('cpu');
  const alpha = tensor([24], 0.3);
  const plugin = useDSConv(tf);
  const layer = DSConv2d.fromFloat(oihw(wc.dataSync(), wc.shape, false), { ...base, padding: 'same' });
  const pre = layer.forward(x.dataSync(), { batch: 2, height: 13, width: 11, layout: 'NHWC' });
  const a = alpha.dataSync();
  const expect = {
    leakyrelu: (v) => v < 0 ? v * 0.1 : v,
    prelu: (v, i) => v < 0 ? v * a[i % 24] : v,
    elu: (v) => v >= 0 ? v : Math.exp(v) - 1,
    sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  };
  for (const [activation, f] of Object.entries(expect)) {
    const y = tf.fused.conv2d({ x, filter: wc, strides: 1, pad: 'same', activation, preluActivationWeights: alpha, leakyreluAlpha: 0.1 }).dataSync();
    assert.ok(identical(y, Float32Array.from(pre, f)), activation);
  }
  plugin.restore();
  layer.dispose();
});

test('per-layer rule: false keeps a conv on the original kernel, settings override the defaults', async () => {
  await tf.setBackend('cpu');
  const ref = tf.conv2d(x, wc, 1, 'same').dataSync();
  const seen = [];
  const plugin = useDSConv(tf, { bits: 4, layers: (info) => { seen.push(info); return info.index === 0 ? false : { bits: 6 }; } });
  assert.ok(identical(tf.conv2d(x, wc, 1, 'same').dataSync(), ref), 'first conv kept float');
  tf.conv2d(x, w1, 1, 'same');
  assert.equal(seen.map((s) => [s.index, s.kind, s.inChannels, s.outChannels]), [[0, 'conv', 40, 24], [1, 'conv', 40, 16]]);
  assert.equal(plugin.layers.map((l) => l.settings && l.settings.bits), [null, 6]);
  assert.is(plugin.layers[0].q, null);
  assert.equal(plugin.weightBytes().floatLayers, 1);
  plugin.restore();
});

test('restore() puts the original kernels back; a second plug-in waits for it', async () => {
  await tf.setBackend('wasm');
  const before = ['Conv2D', 'FusedConv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2D'].map((k) => tf.getKernel(k, 'wasm'));
  const ref = tf.conv2d(x, wc, 1, 'same').dataSync();
  const plugin = useDSConv(tf);
  assert.not.ok(identical(tf.conv2d(x, wc, 1, 'same').dataSync(), ref));
  assert.throws(() => useDSConv(tf), /already active/);
  plugin.restore();
  plugin.restore(); // idempotent
  assert.ok(identical(tf.conv2d(x, wc, 1, 'same').dataSync(), ref));
  const after = ['Conv2D', 'FusedConv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2D'].map((k) => tf.getKernel(k, 'wasm'));
  assert.ok(after.every((k, i) => k === before[i]));
});

test('bad arguments are TypeErrors/RangeErrors naming them', () => {
  assert.throws(() => useDSConv(null), (e) => e instanceof TypeError && /tf must be the TensorFlow\.js namespace/.test(e.message));
  assert.throws(() => useDSConv(tf, { bits: 9 }), (e) => e instanceof RangeError && /options\.bits must be an integer in \[2, 8\], got 9/.test(e.message));
  assert.throws(() => useDSConv(tf, { depthwiseBlocks: 'rows' }), (e) => e instanceof RangeError && /options\.depthwiseBlocks/.test(e.message));
  assert.throws(() => useDSConv(tf, { layers: 3 }), (e) => e instanceof TypeError && /options\.layers must be a function/.test(e.message));
  assert.throws(() => useDSConv(tf, { backends: ['webgpu'] }), (e) => e instanceof RangeError && /none of \["webgpu"\]/.test(e.message));
  assert.throws(() => useDSConv(tf, { float: 'yes' }), (e) => e instanceof TypeError && /options\.float/.test(e.message));
  assert.throws(() => useDSConv(tf, { model: 5 }), (e) => e instanceof TypeError && /options\.model/.test(e.message));
  // A failed call leaves nothing installed.
  const p = useDSConv(tf);
  p.restore();
});

test('unknown options, per-layer settings and update() fields are TypeErrors naming them and the known ones', async () => {
  await tf.setBackend('cpu');
  assert.throws(() => useDSConv(tf, { bitz: 3 }),
    (e) => e instanceof TypeError && e.message === 'options has an unknown option "bitz"; the options are bits, blockSize, mantissaBits, depthwiseBlocks, backends, layers, model, float, bundle, foldBatchNorm, foldActivation, foldPadding');
  const ruled = useDSConv(tf, { layers: () => ({ bits: 5, blocksize: 8 }) });
  try {
    assert.throws(() => tf.conv2d(x, wc, 1, 'same'),
      (e) => e instanceof TypeError && e.message === 'options.layers(0) has an unknown option "blocksize"; the options are bits, blockSize, mantissaBits, depthwiseBlocks');
  } finally {
    ruled.restore();
  }
  const plugin = useDSConv(tf);
  try {
    tf.conv2d(x, wc, 1, 'same');
    assert.throws(() => plugin.update(plugin.layers[0], { scale: new Float32Array(1) }),
      (e) => e instanceof TypeError && e.message === 'change has an unknown option "scale"; the options are q, scales, gamma, delta');
  } finally {
    plugin.restore();
  }
});

test('graph model from local files: each conv equals the package API chained by hand', async () => {
  await tf.setBackend('cpu');
  const { dir, weights } = writeGraphModel(mkdtempSync(join(tmpdir(), 'dsconv-gm-')));
  const model = await tfc.loadGraphModel(fileIO(join(dir, 'model.json')));
  const input = tensor([2, 12, 12, 3]);
  const ref = model.predict(input).dataSync();
  const plugin = useDSConv(tf, { bits: 5, model });
  const y = model.predict(input);
  assert.equal(plugin.layers.map((l) => [l.info.name, l.info.kind]), [['w1', 'conv'], ['w2', 'depthwise'], ['w3', 'conv']]);
  const q = { bits: 5, blockSize: 32, mantissaBits: 8 };
  const l1 = DSConv2d.fromFloat(oihw(weights.w1, [3, 3, 3, 40]), { inChannels: 3, outChannels: 40, kernelSize: 3, stride: 2, padding: 'same', bias: weights.b1, activation: 'relu', ...q });
  const l2 = DSConv2d.fromFloat(oihw(weights.w2, [3, 3, 40, 1], true), { inChannels: 40, outChannels: 40, groups: 40, kernelSize: 3, ...q });
  const l3 = DSConv2d.fromFloat(oihw(weights.w3, [1, 1, 40, 24]), { inChannels: 40, outChannels: 24, kernelSize: 1, ...q });
  const h1 = l1.forward(input.dataSync(), { batch: 2, height: 12, width: 12, layout: 'NHWC' });
  const h2 = l2.forward(h1, { batch: 2, height: 6, width: 6, layout: 'NHWC' });
  const h3 = l3.forward(h2, { batch: 2, height: 4, width: 4, layout: 'NHWC' });
  assert.equal(y.shape, [2, 4, 4, 24]);
  assert.ok(identical(y.dataSync(), h3));
  const s = sqnrDb(ref, y.dataSync());
  assert.ok(s > 20 && s < 60, `5-bit graph model SQNR ${s} dB`);
  plugin.restore();
  for (const l of [l1, l2, l3]) l.dispose();
});

test('the integer path loses nothing against a float64 simulation of docs/ARITHMETIC.md (graph model, 4-bit)', async () => {
  await tf.setBackend('wasm');
  const { dir, weights } = writeGraphModel(mkdtempSync(join(tmpdir(), 'dsconv-gm-')), 21);
  const model = await tfc.loadGraphModel(fileIO(join(dir, 'model.json')));
  const input = tensor([3, 14, 14, 3]);
  const plugin = useDSConv(tf, { bits: 4 });
  const y = model.predict(input).dataSync();
  plugin.restore();
  // The reference in float64, NCHW, each layer's output rounded to float32 as a tensor stores it.
  const q = (w, shape, dw) => quantizeWeights(oihw(w, shape, dw), { outChannels: dw ? shape[2] : shape[3], groupChannels: dw ? 1 : shape[2], kh: shape[0], kw: shape[1] }, 4, 32, 'channels');
  const geo = (inChannels, height, width, outChannels, k, stride, padding, groups) => ({ batch: 3, inChannels, height, width, outChannels, kh: k, kw: k, stride: [stride, stride], padding, dilation: [1, 1], groups });
  let h = nhwcToNchw(input.dataSync(), 3, 3, 14 * 14);
  h = Float32Array.from(dsconvReference(h, q(weights.w1, [3, 3, 3, 40]), 'channels', geo(3, 14, 14, 40, 3, 2, [0, 0, 1, 1], 1), 32, 8, { bias: weights.b1, activation: 'relu' }));
  h = Float32Array.from(dsconvReference(h, q(weights.w2, [3, 3, 40, 1], true), 'channels', geo(40, 7, 7, 40, 3, 1, [0, 0, 0, 0], 40), 32, 8));
  const ref = dsconvReference(h, q(weights.w3, [1, 1, 40, 24]), 'channels', geo(40, 5, 5, 24, 1, 1, [0, 0, 0, 0], 1), 32, 8);
  const got = nhwcToNchw(y, 3, 24, 5 * 5);
  let peak = 0, worst = 0;
  for (let i = 0; i < ref.length; i++) { peak = Math.max(peak, Math.abs(ref[i])); worst = Math.max(worst, Math.abs(ref[i] - got[i])); }
  assert.ok(worst <= 1e-4 * peak, `max |diff| ${worst} vs peak ${peak}`);
  // Top-1 over the 24 outputs at every pixel is identical.
  for (let n = 0; n < 3; n++) for (let p = 0; p < 25; p++) {
    let a = 0, b = 0;
    for (let c = 1; c < 24; c++) {
      if (ref[(n * 24 + c) * 25 + p] > ref[(n * 24 + a) * 25 + p]) a = c;
      if (got[(n * 24 + c) * 25 + p] > got[(n * 24 + b) * 25 + p]) b = c;
    }
    assert.is(b, a, `image ${n} pixel ${p}`);
  }
});

// nsfwjs ships MobileNetV2 (a 5-class image classifier, Keras layers model) as CommonJS wrappers.
test('a real classifier (nsfwjs MobileNetV2) through the plug-in: float kernels match tfjs, 8-bit keeps top-1', async () => {
  await tf.setBackend('wasm');
  const model = await tfl.loadLayersModel(fileIO('node_modules/nsfwjs/dist/models/mobilenet_v2/model.min.js'));
  const ims = ['chelsea.png', 'coffee.png', 'astronaut.png', 'rocket.jpg'].map((f) => cropSquare(readImage(PHOTOS + f), 224));
  const x = tf.tensor4d(Float32Array.from(ims.flatMap((im) => Array.from(im.data, (v) => v / 255))), [4, 224, 224, 3]);
  const top1 = (y) => Array.from(tf.argMax(y, 1).dataSync());
  const ref = model.predict(x);
  let plugin = useDSConv(tf, { float: true, model });
  const viaPlugin = model.predict(x);
  assert.is(plugin.layers.length, 52);
  assert.equal(plugin.layers.filter((l) => l.info.kind === 'depthwise').length, 17);
  plugin.restore();
  const d = ref.dataSync(), e = viaPlugin.dataSync();
  assert.ok(d.every((v, i) => Math.abs(v - e[i]) <= 1e-4), 'softmax within 1e-4');
  assert.equal(top1(viaPlugin), top1(ref));
  plugin = useDSConv(tf, { bits: 8, model });
  const q8 = model.predict(x);
  plugin.restore();
  assert.equal(top1(q8), top1(ref));
  model.dispose();
});

// The golden pair shipped with @upscalerjs/default-model: fixture.png -> 2x result.png, pixels in
// [0, 255], rounded and clipped as UpscalerJS does. Floors are 1 dB under the measured PSNR
// (2026-11-27: 8-bit 51.2 dB, 4-bit 36.4 dB; see README).
const UP = 'node_modules/@upscalerjs/default-model/';
test('upscaler golden pair: float through the plug-in reproduces it; DSConv 8-bit and 4-bit meet their floors', async () => {
  await tf.setBackend('wasm');
  const model = await tfl.loadLayersModel(fileIO(`${UP}models/model.json`));
  const fixture = readImage(`${UP}assets/fixture.png`);
  const golden = readImage(`${UP}assets/samples/2x/result.png`);
  const upscale = () => tf.tidy(() => tf.round(tf.clipByValue(model.predict(tf.tensor4d(fixture.data, [1, fixture.height, fixture.width, 3])), 0, 255)).dataSync());
  const results = {};
  for (const [name, opts] of [['float', { float: true }], ['8-bit', { bits: 8 }], ['4-bit', { bits: 4 }]]) {
    const plugin = useDSConv(tf, { model, ...opts });
    results[name] = psnr(golden.data, upscale());
    assert.is(plugin.layers.length, 12, 'the RDN has 12 convs');
    if (name === '4-bit') {
      const wb = plugin.weightBytes();
      assert.ok(wb.float32 / wb.packed > 6, `conv weights ${wb.float32} B float vs ${wb.packed} B packed`);
    }
    plugin.restore();
  }
  assert.ok(results.float >= 60, `float ${results.float} dB`);
  assert.ok(results['8-bit'] >= 50.2, `8-bit ${results['8-bit']} dB`);
  assert.ok(results['4-bit'] >= 35.4, `4-bit ${results['4-bit']} dB`);
  assert.ok(results['8-bit'] > results['4-bit'] + 5);
  model.dispose();
});

test.run();
