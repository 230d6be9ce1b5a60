// Calibration: the CDS is the per-channel least-squares fit; layers are fitted in execution order
// on the outputs of the calibrated layers before them and installed in the plug-in; data-aware
// rounding and the scale refit cut the error on real photos (the upscaler's golden pair).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { init, DSConv2d, Conv2d } from 'dsconv';
import { useDSConv } from 'dsconv/tfjs';
import { calibrate } from 'dsconv/tfjs';
import { fileIO } from 'dsconv/files';
import { readImage, cropSquare, psnr } from 'dsconv/files';
import { rng, randn } from '../util.js';

tf.env().set('IS_TEST', true);
await init();
await tf.setBackend('cpu');

// Real photos from Debian's python3-skimage (.ci/run installs it).
export const PHOTOS = '/usr/lib/python3/dist-packages/skimage/data/';
if (!existsSync(`${PHOTOS}astronaut.png`)) throw new Error(`real test photos missing: install python3-skimage (apt-get install -y python3-skimage); looked in ${PHOTOS}`);

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

test('bad arguments are TypeErrors/RangeErrors naming them', async () => {
  const plugin = useDSConv(tf);
  const net = (x) => tf.conv2d(x, W1, 1, 'same');
  const rejects = async (p, type, re) => {
    try { await p; } catch (e) { assert.ok(e instanceof type && re.test(e.message), e.message); return; }
    assert.unreachable('no error');
  };
  await rejects(calibrate({}, net, photos), TypeError, /plugin must be/);
  await rejects(calibrate(plugin, 5, photos), TypeError, /model must be a tfjs model/);
  await rejects(calibrate(plugin, net, [1, 2]), TypeError, /images must be a tf\.Tensor/);
  await rejects(calibrate(plugin, net, photos, { methods: ['magic'] }), RangeError, /options\.methods\[0\]/);
  await rejects(calibrate(plugin, net, photos, { target: 'x' }), RangeError, /options\.target/);
  await rejects(calibrate(plugin, net, photos, { samples: 0 }), RangeError, /options\.samples/);
  plugin.restore();
});

test.run();
