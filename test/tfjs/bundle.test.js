// The .dsq bundle: a plug-in's VQK, KDS, CDS and settings round-trip exactly; corrupt, foreign,
// or mismatched bundles (other weights, other shapes) are clear errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfc from '@tensorflow/tfjs-converter';
import { init } from 'dsconv';
import { useDSConv } from 'dsconv/tfjs';
import { encodeBundle, decodeBundle, BUNDLE_VERSION } from 'dsconv/tfjs';
import { crc32 } from 'dsconv/reference';
import { fileIO } from 'dsconv/files';
import { writeGraphModel } from './graphmodel.js';
import { rng, randn, identical } from '../util.js';

tf.env().set('IS_TEST', true);
await init();
await tf.setBackend('cpu');

const load = async (seed) => {
  const { dir } = writeGraphModel(mkdtempSync(join(tmpdir(), 'dsconv-b-')), seed);
  return tfc.loadGraphModel(fileIO(join(dir, 'model.json')));
};
const model = await load(7);
const input = tf.tensor4d(randn(rng(3), 2 * 10 * 10 * 3), [2, 10, 10, 3]);

/** A bundle with a float first layer, 6-bit others, and a CDS on the last. */
function makeBundle(m = model) {
  const plugin = useDSConv(tf, { bits: 6, model: m, layers: ({ index }) => index > 0 });
  try {
    m.predict(input).dispose();
    const last = plugin.layers[2];
    plugin.update(last, { gamma: new Float32Array(24).fill(1.5), delta: new Float32Array(24).map((_, i) => i / 100) });
    return { bytes: plugin.toBundle({ note: 'test' }), out: m.predict(input).dataSync(), layers: plugin.layers };
  } finally {
    plugin.restore();
  }
}

test('a bundle reloads bit for bit: same outputs, VQK, KDS, CDS and float layers', () => {
  const { bytes, out, layers } = makeBundle();
  const b = decodeBundle(bytes);
  assert.equal(b.meta, { note: 'test' });
  assert.equal(b.layers.map((l) => [l.name, l.kind, l.settings && l.settings.bits]), [['w1', 'conv', null], ['w2', 'depthwise', 6], ['w3', 'conv', 6]]);
  const plugin = useDSConv(tf, { bundle: bytes, model, bits: 2 }); // the bundle's settings win
  try {
    assert.ok(identical(model.predict(input).dataSync(), out));
    plugin.layers.forEach((l, i) => {
      assert.equal(l.settings, layers[i].settings);
      if (l.q) assert.ok(identical(l.q, layers[i].q) && identical(l.scales, layers[i].scales));
    });
    assert.ok(identical(plugin.layers[2].gamma, new Float32Array(24).fill(1.5)));
  } finally {
    plugin.restore();
  }
});

test('corrupt, truncated and foreign bundles are RangeErrors', () => {
  const { bytes } = makeBundle();
  const flipped = bytes.slice();
  flipped[bytes.length - 40] ^= 1;
  assert.throws(() => decodeBundle(flipped), (e) => e instanceof RangeError && /CRC-32 checksum mismatch/.test(e.message));
  assert.throws(() => useDSConv(tf, { bundle: flipped, model }), /bundle is corrupt/);
  assert.throws(() => decodeBundle(bytes.subarray(0, 10)), /bundle is truncated/);
  assert.throws(() => decodeBundle(bytes.subarray(0, bytes.length - 8)), /CRC-32/);
  const foreign = new Uint8Array(64);
  assert.throws(() => decodeBundle(foreign), /not a dsconv model bundle/);
  const future = bytes.slice();
  new DataView(future.buffer).setUint32(4, BUNDLE_VERSION + 1, true);
  new DataView(future.buffer).setUint32(future.length - 4, crc32(future.subarray(0, future.length - 4)), true);
  assert.throws(() => decodeBundle(future), new RegExp(`format version ${BUNDLE_VERSION + 1}`));
  assert.throws(() => decodeBundle('model.dsq'), TypeError);
});

test('a bundle refuses another model: other weights with the same shapes, or other shapes', async () => {
  const { bytes } = makeBundle();
  const other = await load(8); // same graph, different seeded weights
  let plugin = useDSConv(tf, { bundle: bytes, model: other });
  assert.throws(() => other.predict(input), (e) => e instanceof RangeError && /weight "w1" differ from those the bundle was made from/.test(e.message));
  plugin.restore();
  // Different shapes: a lone 1x1 conv matched by position (no model to name its weights).
  plugin = useDSConv(tf, { bundle: bytes });
  assert.throws(() => tf.conv2d(input, tf.ones([1, 1, 3, 5]), 1, 'same'), (e) => e instanceof RangeError && /conv #0 is conv \[1,1,3,5\] here but conv \[3,3,3,40\] in the bundle/.test(e.message));
  plugin.restore();
  // More convs than the bundle has.
  const three = decodeBundle(bytes);
  const short = encodeBundle({ meta: {}, layers: three.layers.slice(0, 2) });
  plugin = useDSConv(tf, { bundle: short, model });
  assert.throws(() => model.predict(input), /it has no layer for weight "w3"/);
  plugin.restore();
});

test('toBundle needs a conv to have run', () => {
  const plugin = useDSConv(tf);
  assert.throws(() => plugin.toBundle(), (e) => e instanceof RangeError && /no conv has run yet/.test(e.message));
  plugin.restore();
});

test.run();
