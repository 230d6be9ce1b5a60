// ReLU and ReLU6 folded into the conv before them: which convs a layers model lets fold (directly
// or through their folded BN), outputs bit-identical to the unfolded plug-in, the folded
// activations' kernels skipped (and put back by restore()), the option's errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { init } from 'dsconv';
import { useDSConv, findActivationFolds } from 'dsconv/tfjs';
import { rng, randn, identical, maxDiff, peak, countKernels } from '../util.js';

tf.env().set('IS_TEST', true);
await init();
await tf.setBackend('cpu');

const r = rng(11);
const tensor = (shape, scale = 1, offset = 0) => tf.tensor(randn(r, shape.reduce((a, b) => a * b, 1)).map((v) => v * scale + offset), shape);
const ACTIVATION_KERNELS = ['Relu', 'Relu6', 'ClipByValue'];

/**
 * a: conv → BN → ReLU(6); b: conv with bias → ReLU; c: depthwise → BN → Activation('relu6');
 * not folded: d: conv → BN feeding a ReLU and the Add; e: conv → ReLU(4); f: conv → ReLU whose
 * conv output is also the Add's.
 */
function smallModel() {
  const input = tfl.input({ shape: [9, 8, 6] });
  const L = tfl.layers;
  const conv = (name, filters, k, useBias = false) => L.conv2d({ name, filters, kernelSize: k, padding: 'same', useBias });
  const a = conv('a', 8, 3), ba = L.batchNormalization({ name: 'ba' });
  const b = conv('b', 8, 1, true);
  const c = L.depthwiseConv2d({ name: 'c', kernelSize: 3, padding: 'same', useBias: false }), bc = L.batchNormalization({ name: 'bc' });
  const d = conv('d', 8, 1), bd = L.batchNormalization({ name: 'bd' });
  const e = conv('e', 8, 1);
  const f = conv('f', 8, 1);
  const ha = L.reLU({ name: 'ra', maxValue: 6 }).apply(ba.apply(a.apply(input)));
  const hb = L.reLU({ name: 'rb' }).apply(b.apply(ha));
  const hc = L.activation({ name: 'rc', activation: 'relu6' }).apply(bc.apply(c.apply(hb)));
  const yd = bd.apply(d.apply(hc));
  const hd = L.add().apply([L.reLU({ name: 'rd' }).apply(yd), yd]);
  const he = L.reLU({ name: 're', maxValue: 4 }).apply(e.apply(hd));
  const yf = f.apply(he);
  const out = L.add().apply([L.reLU({ name: 'rf' }).apply(yf), yf]);
  const m = tfl.model({ inputs: input, outputs: out });
  a.setWeights([tensor([3, 3, 6, 8], 0.3)]);
  b.setWeights([tensor([1, 1, 8, 8], 0.4), tensor([8], 0.3)]);
  c.setWeights([tensor([3, 3, 8, 1], 0.4)]);
  for (const l of [d, e, f]) l.setWeights([tensor([1, 1, 8, 8], 0.4)]);
  for (const bn of [ba, bc, bd]) bn.setWeights([tensor([8], 0.5, 1), tensor([8], 0.5), tensor([8], 0.3), tf.abs(tensor([8], 0.5, 0.5))]);
  return m;
}
const model = smallModel();
const x = tensor([2, 9, 8, 6], 2);

const countActivations = () => countKernels(tf, ACTIVATION_KERNELS);

test('the analysis folds conv → BN → ReLU(6), conv + bias → ReLU, depthwise → BN → relu6; not a BN or conv with another consumer, nor ReLU(4)', () => {
  const folds = findActivationFolds(model);
  const byConv = Object.fromEntries([...folds.values()].map((f) => [f.conv, f]));
  assert.equal(Object.keys(byConv).sort(), ['a', 'b', 'c']);
  assert.equal(byConv.a, { conv: 'a', activationLayer: 'ra', activation: 'relu6', throughBatchNorm: true });
  assert.equal(byConv.b, { conv: 'b', activationLayer: 'rb', activation: 'relu', throughBatchNorm: false });
  assert.equal(byConv.c, { conv: 'c', activationLayer: 'rc', activation: 'relu6', throughBatchNorm: true });
  assert.ok(folds.get(model.getLayer('a').getWeights()[0].dataId) === byConv.a, 'keyed by the filter tensor');
  assert.is(findActivationFolds({ executor: { graph: {} } }).size, 0, 'graph models: the converter fuses these');
});

for (const backend of ['cpu', 'wasm']) {
  test(`${backend}: folded activations give the unfolded plug-in's outputs bit for bit; their kernels do not run, the others do; restore() puts them back`, async () => {
    await tf.setBackend(backend);
    const before = ACTIVATION_KERNELS.map((n) => tf.getKernel(n, backend));
    const counter = countActivations();
    let folded, unfolded, foldedCalls, unfoldedCalls, noBnCalls, float;
    try {
      const run = (options) => {
        const plugin = useDSConv(tf, options);
        try {
          model.predict(x).dataSync(); // quantizes: a call like any other
          const calls = counter.calls;
          const y = model.predict(x).dataSync();
          return [y, counter.calls - calls];
        } finally { plugin.restore(); }
      };
      [folded, foldedCalls] = run({ bits: 4, model });
      [unfolded, unfoldedCalls] = run({ bits: 4, model, foldActivation: false });
      [, noBnCalls] = run({ bits: 4, model, foldBatchNorm: false });
      [float] = run({ float: true, model });
    } finally {
      counter.restore();
    }
    // Unfolded: ReLU(6) and ReLU(4) are two kernels each, the others one: 2 + 1 + 1 + 1 + 2 + 1.
    assert.is(unfoldedCalls, 8);
    assert.is(foldedCalls, 8 - 2 - 1 - 1, 'ra, rb and rc skipped');
    assert.is(noBnCalls, 8 - 1, 'without the BN fold only rb, after its conv directly, folds');
    assert.ok(identical(folded, unfolded), `max |diff| ${maxDiff(folded, unfolded)}`);
    const ref = model.predict(x).dataSync();
    assert.ok(maxDiff(float, ref) <= 2e-5 * peak(ref), `float: max |diff| ${maxDiff(float, ref)} vs peak ${peak(ref)}`);
    assert.equal(ACTIVATION_KERNELS.map((n) => tf.getKernel(n, backend)), before, 'restore() put the activation kernels back');
  });
}

test('foldActivation: not a boolean is a TypeError; true without model a RangeError', () => {
  assert.throws(() => useDSConv(tf, { model, foldActivation: 'yes' }), (e) => e instanceof TypeError && /options\.foldActivation must be a boolean/.test(e.message));
  assert.throws(() => useDSConv(tf, { foldActivation: true }), (e) => e instanceof RangeError && /options\.foldActivation needs options\.model/.test(e.message));
});

test.run();
