// Conv2d (the float32 baseline) against an independent implementation: TensorFlow.js's cpu
// backend. A seeded sweep over shapes, strides, dilations, paddings, groups, layouts, bias and
// activation; plus Conv2d against conv2dReference where tf cannot go (stride and dilation > 1).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { init, Conv2d, conv2d } from 'dsconv';
import { conv2dReference, nchwToNhwc, nhwcToNchw } from 'dsconv/reference';
import { rng, randn } from '../util.js';

const CONFIGS = 360;

test.before(async () => {
  await init();
  await tf.setBackend('cpu');
  await tf.ready();
});

/** TensorFlow's 'same' padding along one axis: [before, after]. */
function samePad(size, k, s, d) {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + (k - 1) * d + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** Our padding option -> [top, left, bottom, right] for an input of h x w. */
function resolvePad(c, h, w) {
  const p = c.padding;
  if (p === 'same') {
    const [t, b] = samePad(h, c.kh, c.stride[0], c.dilation[0]);
    const [l, r] = samePad(w, c.kw, c.stride[1], c.dilation[1]);
    return [t, l, b, r];
  }
  if (p === 'valid') return [0, 0, 0, 0];
  if (typeof p === 'number') return [p, p, p, p];
  if (p.length === 2) return [p[0], p[1], p[0], p[1]];
  return p;
}

function outSize(c, h, w) {
  const [t, l, b, r] = resolvePad(c, h, w);
  return [
    Math.floor((h + t + b - c.dilation[0] * (c.kh - 1) - 1) / c.stride[0]) + 1,
    Math.floor((w + l + r - c.dilation[1] * (c.kw - 1) - 1) / c.stride[1]) + 1,
  ];
}

/** The tf padding argument for our option: 'same'/'valid' as is, the rest explicit. */
function tfPad(c, h, w) {
  if (c.padding === 'same' || c.padding === 'valid') return c.padding;
  const [t, l, b, r] = resolvePad(c, h, w);
  return [[0, 0], [t, b], [l, r], [0, 0]];
}

/** OIHW [o][cg][kh][kw] -> HWIO [kh][kw][cg][o] for output channels o0..o1. */
function oihwToHwio(wt, o0, o1, cg, kh, kw) {
  const no = o1 - o0;
  const out = new Float32Array(kh * kw * cg * no);
  for (let o = o0; o < o1; o++)
    for (let c = 0; c < cg; c++)
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++) out[((i * kw + j) * cg + c) * no + (o - o0)] = wt[((o * cg + c) * kh + i) * kw + j];
  return out;
}

/** TF.js output, NHWC, for NHWC input x. */
function tfConv(c, x, wt) {
  const { batch: n, height: h, width: w, inChannels: ci, outChannels: co, kh, kw, groups } = c;
  const cg = ci / groups;
  const og = co / groups;
  const strides = c.stride;
  const dil = c.dilation;
  const pad = tfPad(c, h, w);
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, [n, h, w, ci]);
    let y;
    if (groups === 1) {
      y = tf.conv2d(xt, tf.tensor4d(oihwToHwio(wt, 0, co, cg, kh, kw), [kh, kw, cg, co]), strides, pad, 'NHWC', dil);
    } else if (cg === 1 && groups === ci) {
      // Depthwise with channel multiplier og: output channel c*og + m, the same order as ours.
      const f = new Float32Array(kh * kw * ci * og);
      for (let ch = 0; ch < ci; ch++)
        for (let m = 0; m < og; m++)
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++) f[((i * kw + j) * ci + ch) * og + m] = wt[((ch * og + m) * kh + i) * kw + j];
      y = tf.depthwiseConv2d(xt, tf.tensor4d(f, [kh, kw, ci, og]), strides, pad, 'NHWC', dil);
    } else {
      const parts = tf.split(xt, groups, 3);
      const outs = parts.map((part, g) =>
        tf.conv2d(part, tf.tensor4d(oihwToHwio(wt, g * og, (g + 1) * og, cg, kh, kw), [kh, kw, cg, og]), strides, pad, 'NHWC', dil));
      y = tf.concat(outs, 3);
    }
    if (c.bias) y = tf.add(y, tf.tensor1d(c.bias));
    if (c.activation === 'relu') y = tf.relu(y);
    else if (c.activation === 'relu6') y = tf.relu6(y);
    return { data: y.dataSync().slice(), shape: y.shape };
  });
}

const pick = (r, a) => a[Math.floor(r.uniform() * a.length)];
const irange = (r, lo, hi) => lo + Math.floor(r.uniform() * (hi - lo + 1));

/** One random configuration with a non-empty output. */
function randomConfig(r) {
  for (;;) {
    const kind = pick(r, ['dense', 'dense', 'depthwise', 'grouped']);
    let groups, cg, og;
    if (kind === 'dense') { groups = 1; cg = irange(r, 1, 12); og = irange(r, 1, 12); }
    else if (kind === 'depthwise') { cg = 1; groups = irange(r, 1, 12); og = pick(r, [1, 1, 2, 3]); }
    else { groups = irange(r, 2, 4); cg = irange(r, 1, 4); og = irange(r, 1, 4); }
    const kh = irange(r, 1, 4);
    const kw = r.uniform() < 0.7 ? kh : irange(r, 1, 4);
    let dilation = r.uniform() < 0.3 ? [irange(r, 1, 3), irange(r, 1, 3)] : [1, 1];
    let stride = [1, 1];
    // tf.conv2d needs all strides 1 or all dilations 1.
    if (dilation[0] === 1 && dilation[1] === 1 && r.uniform() < 0.5) stride = [irange(r, 1, 3), irange(r, 1, 3)];
    const padding = pick(r, [
      'same', 'valid', irange(r, 0, 2), [irange(r, 0, 2), irange(r, 0, 2)],
      [irange(r, 0, 3), irange(r, 0, 3), irange(r, 0, 3), irange(r, 0, 3)],
    ]);
    const c = {
      inChannels: cg * groups, outChannels: og * groups, kernelSize: kh === kw && r.uniform() < 0.5 ? kh : [kh, kw],
      kh, kw, stride, dilation, padding, groups,
      batch: irange(r, 1, 3), height: irange(r, 1, 9), width: irange(r, 1, 9),
      layout: pick(r, ['NCHW', 'NHWC']), outputLayout: pick(r, [undefined, 'NCHW', 'NHWC']),
      activation: pick(r, ['none', 'relu', 'relu6']),
      bias: undefined,
    };
    if (stride[0] === stride[1] && r.uniform() < 0.5) c.strideOpt = stride[0]; else c.strideOpt = stride;
    if (dilation[0] === dilation[1] && r.uniform() < 0.5) c.dilationOpt = dilation[0]; else c.dilationOpt = dilation;
    const [oh, ow] = outSize(c, c.height, c.width);
    if (oh < 1 || ow < 1) continue;
    if (r.uniform() < 0.5) c.bias = randn(r, c.outChannels);
    c.oh = oh; c.ow = ow;
    return c;
  }
}

function layerOptions(c) {
  const o = {
    inChannels: c.inChannels, outChannels: c.outChannels, kernelSize: c.kernelSize, stride: c.strideOpt,
    dilation: c.dilationOpt, padding: c.padding, groups: c.groups, activation: c.activation,
  };
  if (c.bias) o.bias = c.bias;
  return o;
}

function describeConfig(c) {
  return JSON.stringify({ ...c, bias: !!c.bias });
}

test(`Conv2d matches tf.js cpu on ${CONFIGS} random configurations`, () => {
  const r = rng(20261127);
  let worst = 0;
  const kinds = { dense: 0, depthwise: 0, grouped: 0, same: 0, valid: 0, explicit: 0, dilated: 0, strided: 0 };
  for (let t = 0; t < CONFIGS; t++) {
    const c = randomConfig(r);
    const { batch: n, inChannels: ci, outChannels: co, height: h, width: w, kh, kw } = c;
    const wt = randn(r, co * (ci / c.groups) * kh * kw);
    const xNhwc = randn(r, n * h * w * ci);
    // Some inputs with exact zeros and a wider dynamic range.
    if (t % 7 === 3) for (let k = 0; k < xNhwc.length; k += 3) xNhwc[k] = 0;
    if (t % 11 === 5) for (let k = 0; k < xNhwc.length; k++) xNhwc[k] *= 2 ** ((k % 9) - 4);
    const input = c.layout === 'NHWC' ? xNhwc : nhwcToNchw(xNhwc, n, ci, h * w);
    const inputCopy = input.slice();

    const want = tfConv(c, xNhwc, wt);
    assert.equal(want.shape, [n, c.oh, c.ow, co], `tf shape ${describeConfig(c)}`);

    const shape = { batch: n, height: h, width: w, layout: c.layout };
    if (c.outputLayout) shape.outputLayout = c.outputLayout;
    let got;
    if (t % 5 === 0) {
      got = conv2d(input, wt, { ...layerOptions(c), ...shape });
    } else {
      const layer = new Conv2d(wt, layerOptions(c));
      assert.equal(layer.outputSize(h, w), [c.oh, c.ow], `outputSize ${describeConfig(c)}`);
      got = layer.forward(input, shape);
      layer.dispose();
    }
    assert.ok(got instanceof Float32Array);
    assert.is(got.length, n * co * c.oh * c.ow, `length ${describeConfig(c)}`);
    assert.equal(input, inputCopy, 'input unchanged');
    const outLayout = c.outputLayout ?? c.layout;
    const gotNhwc = outLayout === 'NHWC' ? got : nchwToNhwc(got, n, co, c.oh * c.ow);

    let maxRef = 0;
    for (const v of want.data) maxRef = Math.max(maxRef, Math.abs(v));
    const tol = 1e-5 * maxRef + 1e-6;
    for (let k = 0; k < gotNhwc.length; k++) {
      const err = Math.abs(gotNhwc[k] - want.data[k]);
      if (!(err <= tol)) {
        assert.unreachable(`config ${t} ${describeConfig(c)}: element ${k} got ${gotNhwc[k]}, tf ${want.data[k]} (tol ${tol})`);
      }
      if (maxRef > 0) worst = Math.max(worst, err / maxRef);
    }
    kinds[c.groups === 1 ? 'dense' : c.inChannels === c.groups ? 'depthwise' : 'grouped']++;
    kinds[c.padding === 'same' ? 'same' : c.padding === 'valid' ? 'valid' : 'explicit']++;
    if (c.dilation[0] > 1 || c.dilation[1] > 1) kinds.dilated++;
    if (c.stride[0] > 1 || c.stride[1] > 1) kinds.strided++;
  }
  // The sweep must actually cover every family.
  for (const [k, v] of Object.entries(kinds)) assert.ok(v >= 15, `only ${v} ${k} configurations`);
  assert.ok(worst < 1e-5, `worst relative error ${worst}`);
});

test('Conv2d matches conv2dReference (incl. stride and dilation > 1 together)', () => {
  const r = rng(77);
  const configs = [
    { inChannels: 5, outChannels: 7, kh: 3, kw: 3, stride: [2, 2], dilation: [2, 2], padding: [1, 2, 2, 1], groups: 1, batch: 2, height: 11, width: 9 },
    { inChannels: 6, outChannels: 6, kh: 3, kw: 2, stride: [2, 3], dilation: [3, 2], padding: [2, 2, 2, 2], groups: 6, batch: 1, height: 10, width: 12 },
    { inChannels: 8, outChannels: 4, kh: 2, kw: 3, stride: [3, 1], dilation: [1, 2], padding: [0, 1, 0, 1], groups: 2, batch: 3, height: 7, width: 8 },
    { inChannels: 33, outChannels: 9, kh: 1, kw: 1, stride: [1, 1], dilation: [1, 1], padding: [0, 0, 0, 0], groups: 1, batch: 1, height: 5, width: 5 },
    { inChannels: 4, outChannels: 8, kh: 5, kw: 5, stride: [1, 1], dilation: [1, 1], padding: [2, 2, 2, 2], groups: 4, batch: 2, height: 6, width: 3 },
    { inChannels: 3, outChannels: 16, kh: 3, kw: 3, stride: [2, 2], dilation: [1, 1], padding: [1, 1, 1, 1], groups: 1, batch: 1, height: 13, width: 13 },
  ];
  for (const g of configs) {
    for (const activation of ['none', 'relu6']) {
      const wt = randn(r, g.outChannels * (g.inChannels / g.groups) * g.kh * g.kw);
      const x = randn(r, g.batch * g.inChannels * g.height * g.width);
      const bias = randn(r, g.outChannels);
      const layer = new Conv2d(wt, {
        inChannels: g.inChannels, outChannels: g.outChannels, kernelSize: [g.kh, g.kw], stride: g.stride,
        dilation: g.dilation, padding: g.padding, groups: g.groups, bias, activation,
      });
      const got = layer.forward(x, { batch: g.batch, height: g.height, width: g.width });
      layer.dispose();
      const want = conv2dReference(x, wt, g, { bias, activation });
      assert.is(got.length, want.length);
      let maxRef = 0;
      for (const v of want) maxRef = Math.max(maxRef, Math.abs(v));
      const tol = 1e-5 * maxRef + 1e-6;
      for (let k = 0; k < got.length; k++) {
        if (!(Math.abs(got[k] - want[k]) <= tol)) {
          assert.unreachable(`${JSON.stringify(g)} ${activation}: element ${k} got ${got[k]}, reference ${want[k]}`);
        }
      }
    }
  }
});

test('Conv2d: layouts agree with each other bit for bit', () => {
  const r = rng(5);
  const o = { inChannels: 6, outChannels: 10, kernelSize: 3, padding: 'same', groups: 2, bias: randn(r, 10), activation: 'relu' };
  const wt = randn(r, 10 * 3 * 9);
  const [n, h, w] = [2, 7, 5];
  const xNchw = randn(r, n * 6 * h * w);
  const xNhwc = nchwToNhwc(xNchw, n, 6, h * w);
  const layer = new Conv2d(wt, o);
  const a = layer.forward(xNchw, { batch: n, height: h, width: w });
  const b = layer.forward(xNhwc, { batch: n, height: h, width: w, layout: 'NHWC', outputLayout: 'NCHW' });
  const c = layer.forward(xNchw, { batch: n, height: h, width: w, layout: 'NCHW', outputLayout: 'NHWC' });
  layer.dispose();
  assert.equal(b, a);
  assert.equal(nhwcToNchw(c, n, 10, h * w), a);
});

test.run();
