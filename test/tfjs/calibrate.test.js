// Calibration: the CDS is the per-channel least-squares fit; layers are fitted in execution order
// on the outputs of the calibrated layers before them and installed in the plug-in; data-aware
// rounding and the scale refit cut the error on real photos (the upscaler's golden pair).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { init, DSConv2d, Conv2d } from 'dsconv';
import { useDSConv } from 'dsconv/tfjs';
import { calibrate } from 'dsconv/tfjs';
import { fileIO } from 'dsconv/files';
import { readImage, cropSquare, psnr } from 'dsconv/files';
import { rng, randn, PHOTOS } from '../util.js';

tf.env().set('IS_TEST', true);
await init();
await tf.setBackend('cpu');

const r = rng(5);
const tensor = (shape, scale = 1) => tf.tensor(randn(r, shape.reduce((a, b) => a * b, 1)).map((v) => v * scale), shape);
const relu = (x) => x.map((v) => (v < 0 ? 0 : v));

// A photo batch: crops of real images, NHWC in [0, 1], with 16 channels made by a fixed 1x1 mix
// so the convs below have more than 3 inputs.
function photoBatch(names, size) {
  const ims = names.map((f, i) => cropSquare(readImage(PHOTOS + f), size, 0.3, (i * 0.37) % 1, (i * 0.59) % 1));
  const mix = randn(rng(9), 3 * 16);
  const data = new Float32Array(ims.length * size * size * 16);
  ims.forEach((im, n) => {
    for (let p = 0; p < size * size; p++) for (let c = 0; c < 16; c++) {
      let v = 0;
      for (let k = 0; k < 3; k++) v += (im.data[p * 3 + k] / 255) * mix[k * 16 + c];
      data[(n * size * size + p) * 16 + c] = v;
    }
  });
  return tf.tensor4d(data, [ims.length, size, size, 16]);
}
const photos = photoBatch(['astronaut.png', 'coffee.png', 'chelsea.png'], 12);
const W1 = tensor([3, 3, 16, 32], 0.15), B1 = tensor([32], 0.1), W2 = tensor([3, 3, 32, 24], 0.1), W3 = tensor([3, 3, 16, 24], 0.1);

function hwioToOihw(f, [kh, kw, cin, cout]) {
  const out = new Float32Array(f.length);
  for (let t = 0; t < kh * kw; t++) for (let c = 0; c < cin; c++) for (let o = 0; o < cout; o++) out[(o * cin + c) * kh * kw + t] = f[(t * cin + c) * cout + o];
  return out;
}

test('CDS is the per-channel least-squares fit of the float layer (target "layer", every position)', async () => {
  const w = W3;
  const net = (x) => tf.conv2d(x, w, 1, 'same');
  const plugin = useDSConv(tf, { bits: 3 });
  const rep = await calibrate(plugin, net, photos, { methods: ['cds'], target: 'layer', samples: 1e6 });
  assert.is(rep.layers.length, 1);
  assert.is(rep.layers[0].samples, 3 * 12 * 12);
  const opts = { inChannels: 16, outChannels: 24, kernelSize: 3, padding: 'same', bits: 3 };
  const oihw = hwioToOihw(w.dataSync(), [3, 3, 16, 24]);
  const shape = { batch: 3, height: 12, width: 12, layout: 'NHWC' };
  const yf = new Conv2d(oihw, opts).forward(photos.dataSync(), shape);
  const yq = DSConv2d.fromFloat(oihw, opts).forward(photos.dataSync(), shape);
  const { gamma, delta } = plugin.layers[0];
  for (let c = 0; c < 24; c++) {
    let sq = 0, sf = 0, sqq = 0, sqf = 0, n = 0;
    for (let i = c; i < yf.length; i += 24) { sq += yq[i]; sf += yf[i]; sqq += yq[i] * yq[i]; sqf += yq[i] * yf[i]; n++; }
    const g = (sqf / n - (sq / n) * (sf / n)) / (sqq / n - (sq / n) ** 2);
    const d = sf / n - g * (sq / n);
    assert.ok(Math.abs(gamma[c] - g) <= 1e-5 * Math.abs(g), `gamma[${c}] ${gamma[c]} vs ${g}`);
    assert.ok(Math.abs(delta[c] - d) <= 1e-5 * (Math.abs(d) + 1e-3), `delta[${c}] ${delta[c]} vs ${d}`);
  }
  assert.ok(rep.layers[0].sqnrAfter >= rep.layers[0].sqnrBefore);
  // The fitted CDS is what the plug-in now runs: the same as DSConv2d with it.
  const want = DSConv2d.fromFloat(oihw, { ...opts, gamma, delta }).forward(photos.dataSync(), shape);
  const got = net(photos).dataSync();
  assert.ok(got.every((v, i) => Object.is(v, want[i])));
  plugin.restore();
});

test('layers are fitted in execution order on the calibrated outputs before them, and installed', async () => {
  const plugin = useDSConv(tf, { bits: 4, blockSize: 8 });
  const net = (x) => tf.tidy(() => tf.conv2d(tf.fused.conv2d({ x, filter: W1, bias: B1, strides: 1, pad: 'same', activation: 'relu' }), W2, 2, 'valid'));
  const order = [];
  const rep = await calibrate(plugin, net, photos, { samples: 200, onLayer: (s) => order.push(s.index) });
  assert.equal(order, [0, 1]);
  assert.equal(rep.layers.map((l) => l.applied), [['rounding', 'scales', 'cds'], ['rounding', 'scales', 'cds']]);
  assert.is(rep.images, 3);
  const [L1, L2] = plugin.layers;
  for (const L of [L1, L2]) assert.ok(L.q.every((v) => v >= -8 && v <= 7) && L.gamma && L.delta);
  // The plug-in's output is the chain of DSConv2d layers built from what calibration installed.
  const q = { bits: 4, blockSize: 8, mantissaBits: 8 };
  const l1 = DSConv2d.fromQuantized({ q: L1.q, scales: L1.scales }, { inChannels: 16, outChannels: 32, kernelSize: 3, padding: [1, 1, 1, 1], bias: B1.dataSync(), activation: 'relu', gamma: L1.gamma, delta: L1.delta, ...q });
  const l2 = DSConv2d.fromQuantized({ q: L2.q, scales: L2.scales }, { inChannels: 32, outChannels: 24, kernelSize: 3, stride: 2, padding: [0, 0, 0, 0], gamma: L2.gamma, delta: L2.delta, ...q });
  const h = l1.forward(photos.dataSync(), { batch: 3, height: 12, width: 12, layout: 'NHWC' });
  const want = l2.forward(h, { batch: 3, height: 12, width: 12, layout: 'NHWC' });
  assert.ok(net(photos).dataSync().every((v, i) => Object.is(v, want[i])));
  // Against the float network, calibration beats data-free on these (calibration) inputs.
  plugin.restore();
  const ref = net(photos).dataSync();
  const p2 = useDSConv(tf, { bits: 4, blockSize: 8 });
  const free = net(photos).dataSync();
  p2.restore();
  const err = (y) => y.reduce((s, v, i) => s + (v - ref[i]) ** 2, 0);
  assert.ok(err(want) < 0.5 * err(free), `calibrated error ${err(want)} vs data-free ${err(free)}`);
  for (const l of [l1, l2]) l.dispose();
});

test('rounding changes only the integers, scales only the KDS, and each lowers the layer error', async () => {
  const w = W1;
  const net = (x) => tf.conv2d(x, w, 1, 'same');
  for (const [methods, what] of [[['rounding'], 'q'], [['scales'], 'scales']]) {
    const plugin = useDSConv(tf, { bits: 3 });
    net(photos).dispose();
    const before = { q: plugin.layers[0].q.slice(), scales: plugin.layers[0].scales.slice() };
    const rep = await calibrate(plugin, net, photos, { methods, target: 'layer', samples: 300 });
    const after = plugin.layers[0];
    const changed = (a, b) => a.some((v, i) => v !== b[i]);
    assert.is(changed(after.q, before.q), what === 'q', `${methods}: q changed`);
    assert.is(changed(after.scales, before.scales), what === 'scales', `${methods}: scales changed`);
    const { sqnrBefore, sqnrAfter } = rep.layers[0];
    assert.ok(sqnrAfter > sqnrBefore + 0.3, `${methods}: ${sqnrBefore} -> ${sqnrAfter} dB`);
    plugin.restore();
  }
});

test('on the wasm backend, a layer keeps its bias while calibration makes the tfjs heap grow', async () => {
  await tf.setBackend('wasm');
  const net = (x) => tf.fused.conv2d({ x, filter: W1, bias: B1, strides: 1, pad: 'same' });
  const plugin = useDSConv(tf, { bits: 4 });
  const big = tf.tile(photos, [40, 4, 4, 1]); // 120 images of 48x48: tfjs grows its heap for them
  await calibrate(plugin, net, [photos, big], { samples: 500, target: 'network' });
  const { q, scales, gamma, delta } = plugin.layers[0];
  const got = net(photos).dataSync();
  plugin.restore();
  big.dispose();
  await tf.setBackend('cpu');
  const layer = DSConv2d.fromQuantized({ q, scales }, { inChannels: 16, outChannels: 32, kernelSize: 3, padding: [1, 1, 1, 1], bias: B1.dataSync(), gamma, delta });
  const want = layer.forward(photos.dataSync(), { batch: 3, height: 12, width: 12, layout: 'NHWC' });
  layer.dispose();
  assert.ok(got.every((v, i) => Object.is(v, want[i])));
});

// Measured 2026-11-27 (8 crops 48x48, 2048 samples): 4-bit data-free 36.4 dB; rounding 49.8,
// scales 44.8, cds 38.3; all three 49.2. Here a smaller run (3 crops 24x24, 384 samples; 48.4 dB) must
// still gain 6 dB; the golden pair's fixture is not among the calibration images.
test('upscaler: calibrating 4-bit DSConv on real photos lifts the golden-pair PSNR by >= 6 dB', async () => {
  await tf.setBackend('wasm');
  const UP = 'node_modules/@upscalerjs/default-model/';
  const model = await tfl.loadLayersModel(fileIO(`${UP}models/model.json`));
  const fixture = readImage(`${UP}assets/fixture.png`), golden = readImage(`${UP}assets/samples/2x/result.png`);
  const up = () => tf.tidy(() => tf.round(tf.clipByValue(model.predict(tf.tensor4d(fixture.data, [1, 128, 128, 3])), 0, 255)).dataSync());
  const ims = ['astronaut.png', 'coffee.png', 'chelsea.png'].map((f, i) => cropSquare(readImage(PHOTOS + f), 24, 0.2, (i * 0.37) % 1, (i * 0.61) % 1));
  const cal = tf.tensor4d(Float32Array.from(ims.flatMap((im) => Array.from(im.data))), [3, 24, 24, 3]);
  let plugin = useDSConv(tf, { bits: 4 });
  const free = psnr(golden.data, up());
  plugin.restore();
  plugin = useDSConv(tf, { bits: 4 });
  const rep = await calibrate(plugin, model, cal, { samples: 384 });
  const calibrated = psnr(golden.data, up());
  plugin.restore();
  assert.is(rep.layers.length, 12);
  assert.ok(calibrated >= free + 6, `4-bit PSNR data-free ${free.toFixed(2)} dB, calibrated ${calibrated.toFixed(2)} dB`);
  await tf.setBackend('cpu');
  model.dispose();
});

test('NCHW convs calibrate as their NHWC twins', async () => {
  const nchw = tf.transpose(photos, [0, 3, 1, 2]);
  const fits = [];
  const two = (format) => (v) => tf.tidy(() => tf.conv2d(tf.relu(tf.conv2d(v, W1, 1, 'same', format)), W2, 1, 'valid', format));
  for (const [net, x] of [[two('NHWC'), photos], [two('NCHW'), nchw]]) {
    const plugin = useDSConv(tf, { bits: 3 });
    await calibrate(plugin, net, x, { samples: 1e6 });
    fits.push(plugin.layers[1]); // the second conv's targets come through the first's float output
    plugin.restore();
  }
  const close = (a, b) => a.every((v, i) => Math.abs(v - b[i]) <= 1e-3 * (Math.abs(b[i]) + 1e-3));
  assert.ok(close(fits[1].gamma, fits[0].gamma) && close(fits[1].delta, fits[0].delta) && close(fits[1].scales, fits[0].scales));
  assert.ok(fits[1].q.filter((v, i) => v !== fits[0].q[i]).length <= fits[0].q.length / 100, 'rounding agrees');
});

// Distinct 12x12 crops, 8 of each photo, NHWC in [0, 1]: 64 of 8 photos, and 32 of 4 others.
const cropsOf = (files) => files
  .flatMap((f) => { const im = readImage(PHOTOS + f); return Array.from({ length: 8 }, (_, k) => cropSquare(im, 12, 0.25, (k * 0.37) % 1, (k * 0.61) % 1)); })
  .map((c) => c.data.map((v) => v / 255));
const CROPS = cropsOf(['astronaut.png', 'brick.png', 'camera.png', 'chelsea.png', 'coffee.png', 'grass.png', 'gravel.png', 'rocket.jpg']);
const OTHER = cropsOf(['cell.png', 'clock_motion.png', 'hubble_deep_field.jpg', 'retina.jpg']);
const cropBatch = (list) => tf.tensor4d(Float32Array.from(list.flatMap((c) => Array.from(c))), [list.length, 12, 12, 3]);

function smallModel() {
  const m = tfl.sequential({ layers: [
    tfl.layers.conv2d({ inputShape: [12, 12, 3], filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
    tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2 }),
  ] });
  m.layers[0].setWeights([tensor([3, 3, 3, 16], 0.3), tensor([16], 0.1)]);
  m.layers[1].setWeights([tensor([3, 3, 16, 8], 0.15), tensor([8], 0.1)]);
  return m;
}

// A layers model's predict runs 32 images per call by default; calibration fitted each layer on its
// first call only, so images past the 32nd were ignored and 64 gave the bundle of 32.
test('a layers model calibrates on every image: 64 images give another fit than their first 32, and the report says what was used', async () => {
  const model = smallModel();
  const cal = async (list, options = {}) => {
    const plugin = useDSConv(tf, { bits: 4, blockSize: 8, model });
    const x = cropBatch(list);
    const rep = await calibrate(plugin, model, x, { samples: 2048, ...options });
    const layers = plugin.layers.map((l) => ({ q: l.q.slice(), scales: l.scales.slice(), gamma: l.gamma.slice() }));
    plugin.restore();
    x.dispose();
    return { rep, layers };
  };
  const differs = (a, b) => a.layers.every((l, i) => l.q.some((v, k) => v !== b.layers[i].q[k]) || l.scales.some((v, k) => v !== b.layers[i].scales[k]));
  const a = await cal(CROPS.slice(0, 32)), b = await cal(CROPS);
  assert.ok(differs(a, b), 'the fits on 64 images differ from those on their first 32');
  assert.is(a.rep.images, 32);
  assert.is(b.rep.images, 64);
  for (const [r, n] of [[a.rep, 32], [b.rep, 64]]) {
    assert.is(r.batches, 1);
    for (const l of r.layers) {
      assert.is(l.images, n, `layer ${l.index} used ${l.images} of ${n} images`);
      // 2048 / n positions per image, or all of the second conv's 5x5.
      assert.is(l.samples, n * Math.min(2048 / n, l.index === 0 ? 144 : 25));
      assert.ok(l.fits >= 2, `layer ${l.index}: refitted as the images came (${l.fits} fits)`);
    }
  }
  // The same first 32 images and another last 32 give other fits: the last 32 are used.
  const c = await cal([...CROPS.slice(0, 32), ...OTHER]);
  assert.ok(differs(b, c), 'the last 32 images change the fits');
  // In chunks (8 images per call by default) the layers are fitted to the float layer on their
  // input; in one call, once, to the float network.
  assert.is(b.rep.target, 'layer');
  const d = await cal(CROPS, { batchSize: 64 });
  assert.is(d.rep.target, 'network');
  assert.ok(d.rep.layers.every((l) => l.fits === 1 && l.images === 64));
  model.dispose();
});

test('batches as an array, iterable, async iterable or generator function calibrate as one tensor run in chunks of the same size', async () => {
  const model = smallModel();
  const list = CROPS.slice(0, 12);
  const cal = async (images, options) => {
    const plugin = useDSConv(tf, { bits: 4, blockSize: 8, model });
    const rep = await calibrate(plugin, model, images, { samples: 300, ...options });
    const layers = plugin.layers.map((l) => [l.q, l.scales, l.gamma, l.delta].map((v) => v.slice()));
    plugin.restore();
    return { rep, layers };
  };
  const whole = cropBatch(list);
  const ref = await cal(whole, { batchSize: 4 });
  const part = (i) => cropBatch(list.slice(4 * i, 4 * i + 4));
  const parts = [0, 1, 2].map(part);
  const before = tf.memory().numTensors;
  const pulled = [];
  const made = () => { const t = [0, 1, 2].map(part); pulled.push(...t); return t; };
  const forms = {
    array: [() => parts, {}],
    iterable: [() => made().values(), { count: 12 }],
    'async iterable': [() => (async function* () { yield* made(); })(), { count: 12 }],
    'generator function': [() => function* () { yield* made(); }, { count: 12 }],
    'async generator function': [() => async function* () { yield* made(); }, { count: 12 }],
  };
  for (const [name, [images, options]] of Object.entries(forms)) {
    const got = await cal(images(), options);
    assert.is(got.rep.images, 12, name);
    assert.is(got.rep.batches, 3, name);
    got.layers.forEach((l, i) => l.forEach((v, k) => assert.ok(v.every((x, j) => Object.is(x, ref.layers[i][k][j])), `${name}: layer ${i} array ${k}`)));
  }
  // Tensors calibrate pulled from an iterator are disposed once used; those passed in are not.
  assert.is(pulled.length, 12);
  assert.ok(pulled.every((t) => t.isDisposed));
  assert.is(tf.memory().numTensors, before);
  assert.ok(parts.every((p) => !p.isDisposed) && !whole.isDisposed);
  for (const p of [...parts, whole]) p.dispose();
  model.dispose();
});

test('a conv reading the images fits the same from one call of 2048 positions as from calls of 512 (the sums keep their order)', async () => {
  const model = smallModel();
  const fit = async (images, batchSize) => {
    const plugin = useDSConv(tf, { bits: 4, blockSize: 8, model });
    const rep = await calibrate(plugin, model, images, { samples: 2048, batchSize, target: 'layer' });
    const l = plugin.layers[0];
    const out = { rep, arrays: [l.q, l.scales, l.gamma, l.delta].map((v) => v.slice()) };
    plugin.restore();
    return out;
  };
  const x = cropBatch(CROPS.slice(0, 32));
  const one = await fit(x, 32), parts = await fit(x, 8);
  assert.is(one.rep.layers[0].samples, 2048);
  assert.is(one.rep.layers[0].fits, 1);
  assert.ok(parts.rep.layers[0].fits > 1);
  one.arrays.forEach((v, k) => assert.ok(v.every((e, i) => Object.is(e, parts.arrays[k][i])), `array ${k}`));
  x.dispose();
  model.dispose();
});

test('a conv is fitted on every image before it runs on the last ones, so the convs after it see its final fit; one with more than 2304 inputs only then', async () => {
  const model = smallModel();
  const plugin = useDSConv(tf, { bits: 4, blockSize: 8, model });
  const x = cropBatch(CROPS.slice(0, 24)); // 3 calls of 8: by growth alone the first conv is fitted after the first only
  const seen = [];
  const rep = await calibrate(plugin, model, x, {
    samples: 960,
    onProgress: (p) => { if (p.phase === 'quantized' && p.layer === 1) seen.push([plugin.layers[0].q.slice(), plugin.layers[0].scales.slice()]); },
  });
  const last = [plugin.layers[0].q, plugin.layers[0].scales];
  const same = (a, b) => a.every((v, k) => v.every((e, i) => Object.is(e, b[k][i])));
  assert.is(seen.length, 3);
  assert.ok(!same(seen[0], last), 'the first call ran on an earlier fit');
  assert.ok(same(seen[2], last), 'the last call ran on the final fit');
  assert.equal(rep.layers.map((l) => l.fits), [2, 2]);
  plugin.restore();
  x.dispose();
  model.dispose();

  // 1x1 convs 3 -> 2320 -> 4: the second's fits cost seconds each at scale, so it has only its last.
  const A = tensor([1, 1, 3, 2320], 0.5), B = tensor([1, 1, 2320, 4], 0.05);
  const net = (x) => tf.tidy(() => tf.conv2d(tf.relu(tf.conv2d(x, A, 1, 'valid')), B, 1, 'valid'));
  const big = useDSConv(tf, { bits: 4 });
  const parts = [0, 1, 2].map((i) => cropBatch(CROPS.slice(4 * i, 4 * i + 4)));
  const r = await calibrate(big, net, parts, { samples: 96, methods: ['scales', 'cds'] });
  assert.equal(r.layers.map((l) => [l.fits, l.samples]), [[2, 96], [1, 96]]);
  big.restore();
  for (const t of [...parts, A, B]) t.dispose();
});

test('the report, computed from the running sums, is what the installed layer does at every position', async () => {
  const net = (x) => tf.conv2d(x, W3, 1, 'same');
  const plugin = useDSConv(tf, { bits: 3 });
  const rep = await calibrate(plugin, net, photos, { target: 'layer', samples: 1e6 });
  const L = rep.layers[0];
  assert.is(L.samples, 3 * 12 * 12);
  const opts = { inChannels: 16, outChannels: 24, kernelSize: 3, padding: 'same', bits: 3 };
  const oihw = hwioToOihw(W3.dataSync(), [3, 3, 16, 24]);
  const shape = { batch: 3, height: 12, width: 12, layout: 'NHWC' };
  const yf = new Conv2d(oihw, opts).forward(photos.dataSync(), shape);
  const free = DSConv2d.fromFloat(oihw, opts).forward(photos.dataSync(), shape);
  const now = net(photos).dataSync();
  plugin.restore();
  const db = (y) => 10 * Math.log10(yf.reduce((a, v) => a + v * v, 0) / yf.reduce((a, v, i) => a + (v - y[i]) ** 2, 0));
  assert.ok(Math.abs(L.sqnrBefore - db(free)) < 1e-4, `before: reported ${L.sqnrBefore}, measured ${db(free)}`);
  assert.ok(Math.abs(L.sqnrAfter - db(now)) < 1e-4, `after: reported ${L.sqnrAfter}, measured ${db(now)}`);
  assert.ok(L.sqnrAfter > L.sqnrBefore + 3, `${L.sqnrBefore} -> ${L.sqnrAfter}`);
  for (let c = 0; c < 24; c++) {
    const v = now.filter((_, i) => i % 24 === c), m = v.reduce((a, x) => a + x, 0) / v.length;
    const sd = Math.sqrt(v.reduce((a, x) => a + (x - m) ** 2, 0) / v.length);
    assert.ok(Math.abs(L.quantMean[c] - m) < 1e-4 * (Math.abs(m) + sd) && Math.abs(L.quantStd[c] - sd) < 1e-4 * sd, `channel ${c}`);
  }
});

test('convs reading the same input share its statistics, and fit as they would alone', async () => {
  const A = tensor([1, 1, 16, 24], 0.2), B = tensor([1, 1, 16, 32], 0.2), Cw = tensor([1, 1, 16, 8], 0.2);
  const cal = async (net) => {
    const plugin = useDSConv(tf, { bits: 4, blockSize: 8 });
    const rep = await calibrate(plugin, net, photos, { samples: 200 });
    const layers = plugin.layers.map((l) => ({ q: l.q.slice(), scales: l.scales.slice(), gamma: l.gamma.slice(), delta: l.delta.slice() }));
    plugin.restore();
    return { rep, layers };
  };
  // A and B read x; C reads 2x, another input of the same shape.
  const both = await cal((x) => tf.tidy(() => [tf.conv2d(x, A, 1, 'valid'), tf.conv2d(x, B, 1, 'valid'), tf.conv2d(tf.mul(x, 2), Cw, 1, 'valid')]));
  assert.equal(both.rep.layers.map((l) => l.sharedWith), [undefined, 0, undefined]);
  const alone = await cal((x) => tf.conv2d(x, B, 1, 'valid'));
  for (const k of ['q', 'scales', 'gamma', 'delta']) assert.ok(both.layers[1][k].every((v, i) => Object.is(v, alone.layers[0][k][i])), k);
});

test('progress: a float and a quantized pass per batch over every conv, then the final fits', async () => {
  const model = smallModel();
  const plugin = useDSConv(tf, { bits: 4, blockSize: 8, model });
  const seen = [];
  const parts = [cropBatch(CROPS.slice(0, 4)), cropBatch(CROPS.slice(4, 10))];
  tf.tidy(() => model.predict(parts[0])); // the plug-in meets every conv, so progress knows how many
  await calibrate(plugin, model, parts, { samples: 100, target: 'network', onProgress: (p) => seen.push(`${p.phase} ${p.batch} ${p.images}+${p.batchImages}/${p.count} ${p.layer} ${p.layersDone}/${p.layers}`) });
  assert.equal(seen, [
    'float 0 0+4/10 0 1/2', 'float 0 0+4/10 1 2/2', 'quantized 0 0+4/10 0 1/2', 'quantized 0 0+4/10 1 2/2',
    'float 1 4+6/10 0 1/2', 'float 1 4+6/10 1 2/2', 'quantized 1 4+6/10 0 1/2', 'quantized 1 4+6/10 1 2/2',
    'final 2 10+0/10 0 1/2', 'final 2 10+0/10 1 2/2',
  ]);
  plugin.restore();
  for (const p of parts) p.dispose();
  model.dispose();
});

test('bad arguments are TypeErrors/RangeErrors naming them', async () => {
  const plugin = useDSConv(tf);
  const net = (x) => tf.conv2d(x, W1, 1, 'same');
  const rejects = async (p, type, re) => {
    try { await p; } catch (e) { assert.ok(e instanceof type && re.test(e.message), e.message); return; }
    assert.unreachable('no error');
  };
  await rejects(calibrate({}, net, photos), TypeError, /plugin must be/);
  await rejects(calibrate(plugin, 5, photos), TypeError, /model must be a tfjs model/);
  await rejects(calibrate(plugin, net, 5), TypeError, /images must be a tf\.Tensor batch, an array, iterable or async iterable of them/);
  await rejects(calibrate(plugin, net, [photos, 2]), TypeError, /images\[1\] must be a tf\.Tensor/);
  await rejects(calibrate(plugin, net, photos, { methods: ['magic'] }), RangeError, /options\.methods\[0\]/);
  await rejects(calibrate(plugin, net, photos, { target: 'x' }), RangeError, /options\.target/);
  await rejects(calibrate(plugin, net, photos, { samples: 0 }), RangeError, /options\.samples/);
  await rejects(calibrate(plugin, net, photos, { batchSize: 0 }), RangeError, /options\.batchSize/);
  await rejects(calibrate(plugin, net, photos, { sample: 10 }), TypeError, /options has an unknown option "sample"/);
  await rejects(calibrate(plugin, net, photos, { onProgress: 1 }), TypeError, /options\.onProgress must be a function/);
  // A stream does not tell how many images it holds, and samples are spread over them.
  await rejects(calibrate(plugin, net, (function* () { yield photos; })()), TypeError, /options\.count is required/);
  await rejects(calibrate(plugin, net, photos, { count: 4 }), RangeError, /options\.count is 4 but images holds 3/);
  await rejects(calibrate(plugin, net, () => 7, { count: 3 }), TypeError, /images\(\) must return an iterable/);
  const bad = tf.scalar(1); // no batch axis
  await rejects(calibrate(plugin, net, (function* () { yield bad; })(), { count: 1 }), TypeError, /batch 0 of images must be a tf\.Tensor batch/);
  await rejects(calibrate(plugin, net, [photos, 'x']), TypeError, /images\[1\] must be a tf\.Tensor/);
  assert.ok(bad.isDisposed, 'a rejected batch from an iterator is disposed');
  plugin.restore();
});

test.run();
