// A standalone quantized model (.dsqm) in headless Chromium: the RDN upscaler (layers model) and
// nsfwjs's MobileNetV2Mid (graph model), quantized at 4 bits in Node, served as one file each and
// loaded by loadQuantizedModel from a URL relative to the page, with no float model anywhere.
// Outputs must be bit-identical to the same artifact run in Node.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-converter';
import { init } from 'dsconv';
import { useDSConv, encodeArtifact, loadQuantizedModel } from 'dsconv/tfjs';
import { fileIO } from 'dsconv/files';
import { bundle, root } from '../../tools/web.mjs';
import { pageSession } from './tfjs-page.js';
import { outputBits } from '../fixtures/tfjs-output.js';
import { rng } from '../util.js';

tf.env().set('IS_TEST', true);
await init();
await tf.setBackend('cpu');
const tfx = { ...tf, loadLayersModel: tfl.loadLayersModel, loadGraphModel: tfc.loadGraphModel };
const HTML = '<!doctype html><meta charset="utf-8"><title>dsconv artifact test</title><script type="module" src="/dist/core/artifact-page.js"></script>';

/** The model at `path` quantized at 4 bits (touched once on zeros) as an artifact. */
async function artifactOf(path, kind, shape, opts = {}) {
  const model = kind === 'layers' ? await tfl.loadLayersModel(fileIO(path)) : await tfc.loadGraphModel(fileIO(path));
  const plugin = useDSConv(tf, { bits: 4, model, ...opts });
  try {
    tf.tidy(() => { model.predict(tf.zeros(shape)); });
    return encodeArtifact(await fileIO(path).load(), plugin.toBundle());
  } finally {
    plugin.restore();
    model.dispose();
  }
}

/** The same artifact run in Node. */
async function inNode(bytes, backend, input, shape) {
  await tf.setBackend(backend);
  const { model, plugin } = await loadQuantizedModel(tfx, bytes);
  try {
    return { bits: await outputBits(tf, model, input, shape), layers: plugin.layers.length };
  } finally {
    plugin.restore();
    model.dispose();
  }
}

const r = rng(17);
const MODELS = [
  { name: 'RDN upscaler', file: 'rdn.dsqm', path: `${root}node_modules/@upscalerjs/default-model/models/model.json`, kind: 'layers', shape: [1, 20, 20, 3], scale: 255 },
  { name: 'MobileNetV2Mid', file: 'mid.dsqm', path: `${root}node_modules/nsfwjs/dist/models/mobilenet_v2_mid/model.min.js`, kind: 'graph', shape: [1, 224, 224, 3], scale: 1, opts: { depthwiseBlocks: 'taps' } },
];
const session = pageSession(test, async () => {
  const routes = {
    '/': { body: HTML, type: 'text/html' },
    '/dist/core/artifact-page.js': { body: await bundle(`${root}test/fixtures/artifact-page.js`), type: 'text/javascript' },
  };
  for (const m of MODELS) {
    m.bytes = await artifactOf(m.path, m.kind, m.shape, m.opts);
    m.input = Float32Array.from({ length: m.shape.reduce((a, b) => a * b, 1) }, () => r.uniform() * m.scale);
    // Only the artifact is served: no model.json, no weight shards.
    routes[`/models/${m.file}`] = { body: Buffer.from(m.bytes), type: 'application/octet-stream' };
  }
  return routes;
}, () => typeof globalThis.artifactTest === 'function');
test.after(() => tf.setBackend('cpu'));

for (const [which, backend] of [[0, 'wasm'], [0, 'cpu'], [1, 'wasm']]) {
  test(`${backend} backend: the ${MODELS[which].name} artifact fetched from a URL, bit-identical to Node`, async () => {
    const m = MODELS[which];
    const want = await inNode(m.bytes, backend, m.input, m.shape);
    const got = await session.page.evaluate((o) => globalThis.artifactTest(o), { backend, url: `models/${m.file}`, input: Array.from(m.input), shape: m.shape });
    assert.is(got.backend, backend);
    assert.is(got.format, `${m.kind}-model`);
    assert.is(got.layers, want.layers, 'the same convs replaced');
    assert.ok(want.layers >= 12);
    assert.is(got.bits.length, want.bits.length);
    const at = got.bits.findIndex((v, i) => v !== want.bits[i]);
    assert.is(at, -1, `${m.name} on ${backend}: first difference at ${at}`);
  });
}

test('a URL the server does not have is an error naming it and the HTTP status', async () => {
  let err;
  try {
    await session.page.evaluate((o) => globalThis.artifactTest(o), { backend: 'wasm', url: 'models/missing.dsqm', input: [0], shape: [1] });
  } catch (e) {
    err = e;
  }
  assert.match(String(err?.message), /could not fetch the quantized model from http:\/\/127\.0\.0\.1:\d+\/models\/missing\.dsqm: HTTP 404/);
});

test.run();
