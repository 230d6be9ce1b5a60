// The TF.js plug-in in headless Chromium: a small layers model and nsfwjs's MobileNetV2Mid graph
// model, served as model.json + weights.bin and loaded by tfjs from their URLs, run with 4-bit
// DSConv on the wasm and cpu backends. Outputs must be bit-identical to the same run in Node:
// DSConv is bit-exact across builds and engines, and the ops between the convs are tfjs's own
// deterministic kernels (the same wasm binary, or JavaScript float32 arithmetic).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-converter';
import { init } from 'dsconv';
import { useDSConv } from 'dsconv/tfjs';
import { fileIO } from 'dsconv/files';
import { bundle, root } from '../../tools/web.mjs';
import { pageSession } from './tfjs-page.js';
import { outputBits } from '../fixtures/tfjs-output.js';
import { rng, randn } from '../util.js';

tf.env().set('IS_TEST', true);
await init();
await tf.setBackend('cpu');
const BITS = 4;
const HTML = '<!doctype html><meta charset="utf-8"><title>dsconv plug-in test</title><script type="module" src="/dist/core/plugin-page.js"></script>';

/**
 * A small layers model with seeded weights: conv (relu), zero padding into a 'valid' depthwise
 * (folded into it), 1x1, pooling, dense.
 */
async function smallModel() {
  const m = tfl.sequential({ layers: [
    tfl.layers.conv2d({ inputShape: [16, 16, 3], filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
    tfl.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]] }),
    tfl.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu' }),
    tfl.layers.conv2d({ filters: 24, kernelSize: 1 }),
    tfl.layers.globalAveragePooling2d({}),
    tfl.layers.dense({ units: 5, activation: 'softmax' }),
  ] });
  const r = rng(5);
  m.setWeights(m.weights.map((w) => tf.tensor(randn(r, w.shape.reduce((a, b) => a * b, 1)).map((v) => v * 0.3), w.shape)));
  let saved;
  await m.save(tf.io.withSaveHandler(async (a) => { saved = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
  return saved;
}

/** model.json + weights.bin routes for artifacts, as a static server would hold them. */
function modelRoutes(prefix, a) {
  const json = {
    format: a.format, generatedBy: a.generatedBy, convertedBy: a.convertedBy, modelTopology: a.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
  };
  return {
    [`${prefix}/model.json`]: { body: JSON.stringify(json), type: 'application/json' },
    [`${prefix}/weights.bin`]: { body: Buffer.from(a.weightData), type: 'application/octet-stream' },
  };
}

/** The same run in Node, from the same artifacts. */
async function inNode(a, kind, backend, input, shape) {
  await tf.setBackend(backend);
  const model = kind === 'layers' ? await tfl.loadLayersModel(tf.io.fromMemory(a)) : await tfc.loadGraphModel(tf.io.fromMemory(a));
  const plugin = useDSConv(tf, { bits: BITS, model });
  try {
    return { bits: await outputBits(tf, model, input, shape), layers: plugin.layers.length };
  } finally {
    plugin.restore();
    model.dispose();
  }
}

const MODELS = [];
const session = pageSession(test, async () => {
  const small = await smallModel();
  const mid = await fileIO(`${root}node_modules/nsfwjs/dist/models/mobilenet_v2_mid/model.min.js`).load();
  const r = rng(9);
  MODELS.push(
    { name: 'layers model', kind: 'layers', url: '/models/small/model.json', a: small, shape: [2, 16, 16, 3], input: randn(r, 2 * 16 * 16 * 3) },
    { name: 'MobileNetV2Mid graph model', kind: 'graph', url: '/models/mid/model.json', a: mid, shape: [1, 224, 224, 3], input: Float32Array.from({ length: 224 * 224 * 3 }, () => r.uniform()) },
  );
  return {
    '/': { body: HTML, type: 'text/html' },
    '/dist/core/plugin-page.js': { body: await bundle(`${root}test/fixtures/plugin-page.js`), type: 'text/javascript' },
    ...modelRoutes('/models/small', small),
    ...modelRoutes('/models/mid', mid),
  };
}, () => typeof globalThis.pluginTest === 'function');
test.after(() => tf.setBackend('cpu'));

for (const backend of ['wasm', 'cpu']) {
  for (const which of [0, 1]) {
    test(`${backend} backend: ${['layers model', 'MobileNetV2Mid graph model'][which]} through the plug-in, bit-identical to Node`, async () => {
      const m = MODELS[which];
      const want = await inNode(m.a, m.kind, backend, m.input, m.shape);
      const got = await session.page.evaluate((o) => globalThis.pluginTest(o),
        { backend, url: m.url, kind: m.kind, input: Array.from(m.input), shape: m.shape, bits: BITS });
      assert.is(got.backend, backend);
      assert.ok(want.layers > 2, `${m.name}: ${want.layers} convs replaced in Node`);
      assert.is(got.layers, want.layers, 'the same convs replaced');
      // On one thread, the wasm backend's layers live on tfjs's heap (no copies), not in dsconv's.
      assert.is(got.ownHeapGrew, !(backend === 'wasm' && got.threads === 1), 'where the layers live');
      assert.is(got.bits.length, want.bits.length);
      const at = got.bits.findIndex((v, i) => v !== want.bits[i]);
      assert.is(at, -1, `${m.name} on ${backend}: first difference at ${at}`);
    });
  }
}

test.run();
