// The standalone quantized model (.dsqm): it round-trips byte for byte; a corrupt, truncated,
// foreign or inconsistent artifact is a RangeError naming the part; the RDN upscaler (layers) and
// nsfwjs's MobileNetV2Mid (graph), quantized at 4 bits, load from it alone and give the plug-in's
// outputs on the original model bit for bit, at most 0.2x the float32 bytes of their weights.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-converter';
import { init } from 'dsconv';
import { useDSConv, encodeArtifact, decodeArtifact, loadQuantizedModel, ARTIFACT_VERSION } from 'dsconv/tfjs';
import { crc32 } from 'dsconv/reference';
import { fileIO, readImage, cropSquare } from 'dsconv/files';
import { writeGraphModel } from './graphmodel.js';
import { rng, randn, PHOTOS, identical } from '../util.js';

tf.env().set('IS_TEST', true);
await init();
await tf.setBackend('cpu');

// tfjs-core's namespace with the two loaders, as @tensorflow/tfjs has them.
const tfx = { ...tf, loadLayersModel: tfl.loadLayersModel, loadGraphModel: tfc.loadGraphModel };
const tmp = mkdtempSync(join(tmpdir(), 'dsconv-art-'));
const count = (shape) => shape.reduce((a, b) => a * b, 1);
const input = tf.tensor4d(randn(rng(3), 2 * 10 * 10 * 3), [2, 10, 10, 3]);

/** The small graph model: w1 kept float, w2 (depthwise) and w3 at 6 bits, a CDS on w3. */
async function small(seed = 7) {
  const { dir } = writeGraphModel(mkdtempSync(join(tmpdir(), 'dsconv-art-gm-')), seed);
  const file = join(dir, 'model.json');
  const model = await tfc.loadGraphModel(fileIO(file));
  const plugin = useDSConv(tf, { bits: 6, model, layers: ({ index }) => index > 0 });
  try {
    model.predict(input).dispose();
    plugin.update(plugin.layers[2], { gamma: new Float32Array(24).fill(1.5), delta: new Float32Array(24).map((_, i) => i / 100) });
    return { file, model, bundle: plugin.toBundle({ note: 'test' }), out: model.predict(input).dataSync(), layers: plugin.layers };
  } finally {
    plugin.restore();
  }
}
const s = await small();
const bytes = encodeArtifact(await fileIO(s.file).load(), s.bundle);

test('an artifact round-trips byte for byte and loads to the same outputs, VQK, KDS and CDS; kept-float convs stay as stored', async () => {
  const d = decodeArtifact(bytes);
  assert.is(d.format, 'graph-model');
  assert.equal(d.meta, { note: 'test' });
  assert.ok(identical(encodeArtifact(d.artifacts, d.bundle), bytes), 'encode(decode(a)) === a');
  // Weights given in shards (tfjs's ArrayBuffer[] form) are the same weights.
  const a = await fileIO(s.file).load();
  assert.ok(identical(encodeArtifact({ ...a, weightData: [a.weightData.slice(0, 1000), a.weightData.slice(1000)] }, s.bundle), bytes));
  // Only the float conv w1 and the bias b1 are in the weights part; w2 and w3 are packed.
  assert.is(d.sizes.weights, 4 * (3 * 3 * 3 * 40 + 40));
  const q = await loadQuantizedModel(tfx, bytes.buffer.slice(0)); // an ArrayBuffer works too
  try {
    assert.ok(identical(q.model.predict(input).dataSync(), s.out));
    assert.equal(q.plugin.layers.map((l) => [l.info.name, l.settings && l.settings.bits]), [['w1', null], ['w2', 6], ['w3', 6]]);
    q.plugin.layers.forEach((l, i) => {
      if (l.q) assert.ok(identical(l.q, s.layers[i].q) && identical(l.scales, s.layers[i].scales), l.info.name);
    });
    assert.ok(identical(q.plugin.layers[2].gamma, s.layers[2].gamma) && identical(q.plugin.layers[2].delta, s.layers[2].delta));
    // tfjs holds w3 dequantized: VQK times its block's scale (1x1, 40 inputs in blocks of 32).
    const l = s.layers[2], w3 = q.model.weights.w3[0].dataSync();
    for (let o = 0; o < 24; o++) for (let c = 0; c < 40; c++) {
      assert.is(w3[c * 24 + o], Math.fround(l.q[o * 40 + c] * l.scales[o * 2 + (c >> 5)]));
    }
  } finally {
    q.plugin.restore();
    q.model.dispose();
  }
});

// The part table: tag, offset, length, CRC-32 per part after 12 bytes; the header's CRC-32 after it.
const partAt = (a, i) => {
  const v = new DataView(a.buffer, a.byteOffset);
  return { offset: v.getUint32(12 + 16 * i + 4, true), length: v.getUint32(12 + 16 * i + 8, true) };
};
/** A copy of `a` with part i's bytes changed by `edit` (same length) and every CRC made right again. */
function rewritePart(a, i, edit) {
  const b = a.slice();
  const { offset, length } = partAt(b, i);
  edit(b.subarray(offset, offset + length));
  const v = new DataView(b.buffer);
  v.setUint32(12 + 16 * i + 12, crc32(b.subarray(offset, offset + length)), true);
  v.setUint32(12 + 16 * 3, crc32(b.subarray(0, 12 + 16 * 3)), true);
  return b;
}
const rangeError = (re) => (e) => e instanceof RangeError && re.test(e.message);
/** uvu has no assert.rejects: `fn()` must reject with an error `check` accepts. */
async function rejects(fn, check, what) {
  let err;
  try { await fn(); } catch (e) { err = e; }
  assert.ok(err !== undefined && check(err), `${what}: ${err ? `${err.name}: ${err.message}` : 'resolved'}`);
}

test('a corrupt byte in each part, truncation, a foreign file or another version is a RangeError naming the part', () => {
  ['model', 'weights', 'convs'].forEach((name, i) => {
    const { offset, length } = partAt(bytes, i);
    const bad = bytes.slice();
    bad[offset + (length >> 1)] ^= 0x10;
    assert.throws(() => decodeArtifact(bad), rangeError(new RegExp(`^artifact part '${name}' is corrupt: CRC-32 mismatch$`)), name);
  });
  const header = bytes.slice();
  header[12 + 16 + 4] ^= 1; // the weights part's offset
  assert.throws(() => decodeArtifact(header), rangeError(/^artifact header is corrupt/));
  for (const n of [bytes.length - 1, partAt(bytes, 1).offset + 3, 40, 8]) {
    assert.throws(() => decodeArtifact(bytes.subarray(0, n)), rangeError(/^artifact is truncated: (part 'convs'|part 'weights'|the header)/), `${n} bytes`);
  }
  const magic = bytes.slice();
  magic[0] = 0x58;
  assert.throws(() => decodeArtifact(magic), rangeError(/^artifact header: not a dsconv quantized model \(bad magic; expected "DSQM"\)/));
  assert.throws(() => decodeArtifact(s.bundle), rangeError(/bad magic/), 'a .dsq bundle is not an artifact');
  const version = bytes.slice();
  new DataView(version.buffer).setUint32(4, ARTIFACT_VERSION + 1, true);
  assert.throws(() => decodeArtifact(version), rangeError(new RegExp(`format version ${ARTIFACT_VERSION + 1}; this dsconv reads version ${ARTIFACT_VERSION}`)));
  assert.throws(() => decodeArtifact('model.dsqm'), (e) => e instanceof TypeError && /artifact must be a Uint8Array or ArrayBuffer/.test(e.message));
});

test('parts that disagree with each other (checksums right) are RangeErrors naming them', () => {
  // The model part gives w3 a shape the convs part's layer does not have.
  const reshape = (p) => {
    const text = new TextDecoder().decode(p).replace('"name":"w3","shape":[1,1,40,24]', '"name":"w3","shape":[1,1,24,40]');
    assert.is(text.length, p.length);
    p.set(new TextEncoder().encode(text));
  };
  assert.throws(() => decodeArtifact(rewritePart(bytes, 0, reshape)), rangeError(/^artifact part 'convs' does not match part 'model': no quantized layer for weight "w3" \[1,1,24,40\]/));
  // The model part stores w3 as an ordinary weight while the convs part quantizes it.
  const unmarked = rewritePart(bytes, 0, (p) => {
    const text = new TextDecoder().decode(p).replace('"dtype":"float32","dsconv":true}', '"dtype":"float32"              }');
    p.set(new TextEncoder().encode(text));
  });
  assert.throws(() => decodeArtifact(unmarked), rangeError(/^artifact part 'convs' does not match part 'model': its layer "w2" has no weight marked for it/));
  // A weights part one float short of what the model part describes.
  const short = rewritePart(bytes, 0, (p) => {
    const text = new TextDecoder().decode(p).replace('"name":"b1","shape":[40]', '"name":"b1","shape":[39]');
    p.set(new TextEncoder().encode(text));
  });
  assert.throws(() => decodeArtifact(short), rangeError(/^artifact part 'weights' has 4480 bytes; part 'model' describes 4476/));
  assert.throws(() => decodeArtifact(rewritePart(bytes, 0, (p) => p.fill(0x20, 0, 1))), rangeError(/^artifact part 'model' is unreadable/));
});

test('encodeArtifact refuses a bundle made from another model, or without weight names', async () => {
  const other = await small(8);
  const artifacts = await fileIO(s.file).load();
  assert.throws(() => encodeArtifact(artifacts, other.bundle), rangeError(/^bundle layer #0 \("w1"\) does not match this model: its float weights differ/));
  const plugin = useDSConv(tf, { bits: 4 }); // no model: layers have no names
  s.model.predict(input).dispose();
  const unnamed = plugin.toBundle();
  plugin.restore();
  assert.throws(() => encodeArtifact(artifacts, unnamed), rangeError(/^bundle layer #0 has no weight name: make the bundle with useDSConv\(tf, \{ model \}\)/));
  assert.throws(() => encodeArtifact({ ...artifacts, weightData: artifacts.weightData.slice(4) }, s.bundle), rangeError(/^model\.weightData has 9756 bytes; its weight specs need more/));
  assert.throws(() => encodeArtifact({ modelTopology: {} }, s.bundle), (e) => e instanceof TypeError && /model must be a TF\.js model's artifacts/.test(e.message));
});

test('loadQuantizedModel: bad sources and options, a tf without the loader the artifact needs', async () => {
  await rejects(() => loadQuantizedModel(tfx, 42), (e) => e instanceof TypeError && /source must be the artifact's bytes/.test(e.message), 'number');
  await rejects(() => loadQuantizedModel(tfx, bytes, { backend: 'cpu' }), (e) => e instanceof TypeError && /options has an unknown option "backend"; the options are backends/.test(e.message), 'option');
  await rejects(() => loadQuantizedModel({ ...tf, loadLayersModel: tfl.loadLayersModel }, bytes),
    (e) => e instanceof TypeError && /with loadGraphModel \(this artifact is a graph-model\).*@tensorflow\/tfjs-converter/.test(e.message), 'loader');
  await rejects(() => loadQuantizedModel(tfx, join(tmp, 'missing.dsqm')), (e) => /could not read the quantized model from .*missing\.dsqm/.test(e.message), 'file');
  // A plug-in already active: the model just loaded is disposed and the error is useDSConv's.
  const active = useDSConv(tf);
  try {
    await rejects(() => loadQuantizedModel(tfx, bytes), (e) => /already active/.test(e.message), 'active');
  } finally {
    active.restore();
  }
});

/**
 * Quantizes `model` at 4 bits, writes the artifact next to nothing else and loads it from that file
 * (by path and by file: URL): the outputs on `x` are the plug-in's on the original, bit for bit.
 */
async function standalone(path, model, x, opts, backends) {
  const plugin = useDSConv(tf, { bits: 4, model, ...opts });
  let want, bundle, layers;
  try {
    want = model.predict(x).dataSync();
    bundle = plugin.toBundle();
    layers = plugin.layers;
  } finally {
    plugin.restore();
  }
  const artifacts = await fileIO(path).load();
  const a = encodeArtifact(artifacts, bundle);
  const file = join(tmp, `${layers.length}.dsqm`);
  writeFileSync(file, a);
  const d = decodeArtifact(a);
  // No float conv weight is stored: the weights part is exactly the specs that are not convs.
  const convs = new Set(layers.map((l) => l.info.name));
  const others = artifacts.weightSpecs.filter((w) => !convs.has(w.name));
  assert.is(d.sizes.weights, others.reduce((n, w) => n + count(w.shape) * (w.quantization ? 1 : 4), 0));
  for (const source of [file, pathToFileURL(file)]) {
    const q = await loadQuantizedModel(tfx, source, { backends });
    try {
      assert.ok(identical(q.model.predict(x).dataSync(), want), `outputs from ${source}`);
      assert.is(q.plugin.layers.length, layers.length);
      assert.ok(q.plugin.layers.every((l, i) => identical(l.q, layers[i].q) && identical(l.scales, layers[i].scales)));
    } finally {
      q.plugin.restore();
      q.model.dispose();
    }
  }
  return { bytes: a.length, weights: artifacts.weightData.byteLength, float32: 4 * artifacts.weightSpecs.reduce((n, w) => n + count(w.shape), 0), layers };
}

test('the RDN upscaler (layers model, float32 files) at 4 bits: loads from its artifact alone, bit-identical, <= 0.2x its weight files', async () => {
  await tf.setBackend('wasm');
  const path = 'node_modules/@upscalerjs/default-model/models/model.json';
  const model = await tfl.loadLayersModel(fileIO(path));
  const img = readImage('node_modules/@upscalerjs/default-model/assets/fixture.png');
  const x = tf.tensor4d(img.data, [1, img.height, img.width, 3]);
  const r = await standalone(path, model, x, {}, ['wasm']);
  const files = statSync('node_modules/@upscalerjs/default-model/models/group1-shard1of1.bin').size;
  assert.is(r.weights, files);
  assert.ok(r.bytes <= 0.2 * files, `artifact ${r.bytes} B vs weight files ${files} B`);
  model.dispose();
});

test('nsfwjs MobileNetV2Mid (graph model, uint8 files) at 4 bits: loads from its artifact alone, bit-identical, <= 0.2x 4 bytes per weight', async () => {
  await tf.setBackend('wasm');
  const path = 'node_modules/nsfwjs/dist/models/mobilenet_v2_mid/model.min.js';
  const model = await tfc.loadGraphModel(fileIO(path));
  const im = cropSquare(readImage(PHOTOS + 'chelsea.png'), 224);
  const x = tf.tensor4d(Float32Array.from(im.data, (v) => v / 255), [1, 224, 224, 3]);
  const r = await standalone(path, model, x, { depthwiseBlocks: 'taps' });
  assert.ok(r.bytes <= 0.2 * r.float32, `artifact ${r.bytes} B vs ${r.float32} B of float32 weights`);
  // Against the uint8 weights as shipped it is larger than a quarter: the 4-bit VQK alone is half of them.
  assert.ok(r.bytes < r.weights, `artifact ${r.bytes} B vs ${r.weights} B of uint8 weights`);
  model.dispose();
});

test('nsfwjs MobileNetV2 (layers model, BatchNorm folded into every conv) at 4 bits: loads from its artifact alone, bit-identical', async () => {
  await tf.setBackend('wasm');
  const path = 'node_modules/nsfwjs/dist/models/mobilenet_v2/model.min.js';
  const model = await tfl.loadLayersModel(fileIO(path));
  const im = cropSquare(readImage(PHOTOS + 'coffee.png'), 224);
  const x = tf.tensor4d(Float32Array.from(im.data, (v) => v / 255), [1, 224, 224, 3]);
  const r = await standalone(path, model, x, { depthwiseBlocks: 'taps' });
  assert.is(r.layers.length, 52);
  assert.ok(r.layers.every((l) => l.foldedBatchNorm), 'every conv carries its BN');
  assert.ok(r.bytes <= 0.2 * r.float32, `artifact ${r.bytes} B vs ${r.float32} B of float32 weights`);
  model.dispose();
});

test('the README example of "A quantized model on its own" compiles under --strict against @tensorflow/tfjs and prints what it says', async () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const example = readme.slice(readme.indexOf('### A quantized model on its own')).match(/```js\n([\s\S]*?)```/)[1];
  // Inside the package (build/ is ignored by git), so 'dsconv' resolves to this package.
  const dir = `${root}build/readme-artifact/`;
  mkdirSync(`${dir}models`, { recursive: true });
  await tf.setBackend('wasm');
  const path = 'node_modules/@upscalerjs/default-model/models/model.json';
  const model = await tfl.loadLayersModel(fileIO(path));
  const plugin = useDSConv(tf, { bits: 4, model });
  try {
    tf.tidy(() => { model.predict(tf.zeros([1, 8, 8, 3])); });
    writeFileSync(`${dir}models/rdn.dsqm`, encodeArtifact(await fileIO(path).load(), plugin.toBundle({ bits: 4 })));
  } finally {
    plugin.restore();
    model.dispose();
  }
  writeFileSync(`${dir}example.mjs`, example);
  writeFileSync(`${dir}tsconfig.json`, JSON.stringify({
    compilerOptions: {
      strict: true, noEmit: true, allowJs: true, checkJs: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', types: ['node'], skipLibCheck: true,
    },
    files: ['example.mjs'],
  }));
  const tsc = spawnSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${dir}tsconfig.json`], { encoding: 'utf8' });
  assert.is((tsc.stdout + tsc.stderr).trim(), '');
  const run = spawnSync(process.execPath, ['example.mjs'], { cwd: dir, encoding: 'utf8' });
  assert.is(run.status, 0, run.stderr);
  assert.is(run.stdout.replace(/\x1b\[[0-9;]*m/g, ''), '4 12\n'); // the runner may force colours on
});

test.run();
