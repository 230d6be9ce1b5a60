// ZeroPadding2D folded into the 'valid' conv after it: which padding layers a layers model lets
// fold, outputs bit-identical to the unfolded plug-in (DSConv and float), no PadV2 for the folded
// ones, the original kernel still padded where the plug-in keeps a conv, the padding layers as
// before when restored or on a backend the plug-in does not cover, the option's errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { init } from 'dsconv';
import { useDSConv, findPaddingFolds } from 'dsconv/tfjs';
import { rng, randn, identical, maxDiff, peak, countKernels } from '../util.js';

tf.env().set('IS_TEST', true);
await init();
await tf.setBackend('cpu');

const r = rng(23);
const tensor = (shape, scale = 1) => tf.tensor(randn(r, shape.reduce((a, b) => a * b, 1)).map((v) => v * scale), shape);

/**
 * Folded: pa ((1,2),(0,1)) → a 3x3 s2 conv with bias and relu; pb (1) → b depthwise 3x3.
 * Not folded: pc → c, a 'same' conv; pd → d, and also the Add; pe → a max pool.
 */
function smallModel() {
  const input = tfl.input({ shape: [11, 10, 5] });
  const L = tfl.layers;
  const a = L.conv2d({ name: 'a', filters: 8, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu' });
  const b = L.depthwiseConv2d({ name: 'b', kernelSize: 3, padding: 'valid', useBias: false });
  const c = L.conv2d({ name: 'c', filters: 8, kernelSize: 3, padding: 'same', useBias: false });
  const d = L.conv2d({ name: 'd', filters: 8, kernelSize: 1, padding: 'valid', useBias: false });
  const ha = a.apply(L.zeroPadding2d({ name: 'pa', padding: [[1, 2], [0, 1]] }).apply(input));
  const hb = b.apply(L.zeroPadding2d({ name: 'pb', padding: 1 }).apply(ha));
  const hc = c.apply(L.zeroPadding2d({ name: 'pc', padding: 1 }).apply(hb));
  const pd = L.zeroPadding2d({ name: 'pd', padding: 1 }).apply(hc);
  const hd = L.add().apply([d.apply(pd), pd]);
  const out = L.maxPooling2d({ poolSize: 2 }).apply(L.zeroPadding2d({ name: 'pe', padding: 1 }).apply(hd));
  const m = tfl.model({ inputs: input, outputs: out });
  a.setWeights([tensor([3, 3, 5, 8], 0.3), tensor([8], 0.2)]);
  b.setWeights([tensor([3, 3, 8, 1], 0.4)]);
  c.setWeights([tensor([3, 3, 8, 8], 0.3)]);
  d.setWeights([tensor([1, 1, 8, 8], 0.4)]);
  return m;
}
const model = smallModel();
const x = tensor([2, 11, 10, 5], 2);

const countPads = () => countKernels(tf, ['PadV2']);

test('the analysis folds a padding layer into the valid conv or depthwise conv it alone feeds; not before a same conv, a second consumer or a pool', () => {
  const folds = findPaddingFolds(model);
  assert.equal(folds.map((f) => [f.padding, f.conv, f.pads]), [['pa', 'a', [1, 2, 0, 1]], ['pb', 'b', [1, 1, 1, 1]]]);
  assert.ok(folds[0].filter.dataId === model.getLayer('a').getWeights()[0].dataId, 'the conv\'s filter tensor');
  assert.equal(findPaddingFolds({ executor: { graph: {} } }), [], 'graph models: left alone');
});

for (const backend of ['cpu', 'wasm']) {
  test(`${backend}: folded padding gives the unfolded plug-in's outputs bit for bit, with two PadV2 calls fewer; a conv the plug-in keeps still gets its pad; restore() pads again`, async () => {
    await tf.setBackend(backend);
    const counter = countPads();
    const calls = {};
    const outputs = {};
    try {
      const run = (name, options) => {
        const plugin = useDSConv(tf, options);
        try {
          model.predict(x).dataSync(); // quantizes: a call like any other
          const before = counter.calls;
          outputs[name] = model.predict(x).dataSync();
          calls[name] = counter.calls - before;
        } finally { plugin.restore(); }
      };
      run('folded', { bits: 4, model });
      run('unfolded', { bits: 4, model, foldPadding: false });
      run('float', { float: true, model });
      run('floatUnfolded', { float: true, model, foldPadding: false });
      // Conv a kept on tfjs's kernel: the plug-in pads its input for it.
      run('kept', { bits: 4, model, layers: ({ name }) => !String(name).startsWith('a/') });
      run('keptUnfolded', { bits: 4, model, foldPadding: false, layers: ({ name }) => !String(name).startsWith('a/') });
      const before = counter.calls;
      outputs.tfjs = model.predict(x).dataSync();
      calls.tfjs = counter.calls - before;
    } finally {
      counter.restore();
    }
    assert.equal(calls, { folded: 3, unfolded: 5, float: 3, floatUnfolded: 5, kept: 4, keptUnfolded: 5, tfjs: 5 }, 'restored: every padding layer pads again');
    assert.ok(identical(outputs.folded, outputs.unfolded), `max |diff| ${maxDiff(outputs.folded, outputs.unfolded)}`);
    assert.ok(identical(outputs.float, outputs.floatUnfolded), `float: max |diff| ${maxDiff(outputs.float, outputs.floatUnfolded)}`);
    assert.ok(identical(outputs.kept, outputs.keptUnfolded), `kept: max |diff| ${maxDiff(outputs.kept, outputs.keptUnfolded)}`);
    assert.ok(maxDiff(outputs.float, outputs.tfjs) <= 2e-5 * peak(outputs.tfjs), `float vs tfjs: max |diff| ${maxDiff(outputs.float, outputs.tfjs)}`);
    assert.not.ok(identical(outputs.folded, outputs.float), 'the quantized run is not the float one');
  });
}

test('a plug-in for another backend leaves the padding layers padding', async () => {
  await tf.setBackend('cpu');
  const counter = countPads();
  let y, calls;
  const warn = console.warn;
  console.warn = () => {};
  try {
    const plugin = useDSConv(tf, { bits: 4, model, backends: ['wasm'] });
    try {
      const before = counter.calls;
      y = model.predict(x).dataSync();
      calls = counter.calls - before;
    } finally { plugin.restore(); }
  } finally {
    console.warn = warn;
    counter.restore();
  }
  assert.is(calls, 5);
  assert.ok(identical(y, model.predict(x).dataSync()), 'tfjs\'s own outputs');
});

test('foldPadding: not a boolean is a TypeError; true without model a RangeError', () => {
  assert.throws(() => useDSConv(tf, { model, foldPadding: 1 }), (e) => e instanceof TypeError && /options\.foldPadding must be a boolean/.test(e.message));
  assert.throws(() => useDSConv(tf, { foldPadding: true }), (e) => e instanceof RangeError && /options\.foldPadding needs options\.model/.test(e.message));
});

test.run();
