// Every bad input is refused with the right error type (TypeError: wrong kind of value,
// RangeError: right kind, wrong value) and a message that names the argument; and no error
// leaves the module in a state that changes later results.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { init, getInfo, Conv2d, DSConv2d, conv2d } from 'dsconv';
import { crc32 } from 'dsconv/reference';
import { rng, randn } from '../util.js';

// A DSConv2d and a Conv2d whose outputs are recorded once and re-checked after every error.
let probeQ, probeF, probeX, probeQOut, probeFOut;
const PROBE = { inChannels: 6, outChannels: 8, kernelSize: 3, padding: 'same', groups: 2, activation: 'relu' };
const PROBE_SHAPE = { batch: 2, height: 5, width: 4 };

// A small valid layer to break in different ways.
const BASE = { inChannels: 4, outChannels: 8, kernelSize: 3 };
let W; // weights for BASE
let X; // input for BASE, 1x4x5x5
let blob; // a valid toBytes() blob

const r = rng(4242);

test.before(async () => {
  await init();
  const pw = randn(r, 8 * 3 * 9);
  probeQ = DSConv2d.fromFloat(pw, { ...PROBE, bias: randn(r, 8), bits: 5 });
  probeF = new Conv2d(pw, { ...PROBE, bias: randn(r, 8) });
  probeX = randn(r, 2 * 6 * 5 * 4);
  probeQOut = probeQ.forward(probeX, PROBE_SHAPE);
  probeFOut = probeF.forward(probeX, PROBE_SHAPE);
  W = randn(r, 8 * 4 * 9);
  X = randn(r, 4 * 5 * 5);
  blob = DSConv2d.fromFloat(W, { ...BASE, bias: randn(r, 8), gamma: randn(r, 8), padding: 1 }).toBytes();
});

test.after(() => {
  probeQ.dispose();
  probeF.dispose();
});

function sameBits(a, b) {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (!Object.is(a[k], b[k])) return false;
  return true;
}

/** The module still computes exactly what it did before any error. */
function stillWorks(label) {
  const x = probeX.slice();
  assert.ok(sameBits(probeQ.forward(probeX, PROBE_SHAPE), probeQOut), `${label}: DSConv2d output changed after the error`);
  assert.ok(sameBits(probeF.forward(probeX, PROBE_SHAPE), probeFOut), `${label}: Conv2d output changed after the error`);
  assert.ok(sameBits(probeX, x), `${label}: input modified`);
}

/** fn throws exactly `Type` with a message matching `re`; afterwards the module still works. */
function throws(label, fn, Type, re) {
  let err;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined, `${label}: expected a ${Type.name}, nothing was thrown`);
  assert.is(err.constructor, Type, `${label}: expected a ${Type.name}, got ${err.constructor.name}: ${err.message}`);
  assert.match(err.message, re, `${label}: message ${JSON.stringify(err.message)} does not match ${re}`);
  stillWorks(label);
  return err;
}

/** As throws(), for construction: also no wasm memory is left allocated. */
function refuses(label, fn, Type, re) {
  const used = getInfo().usedBytes;
  throws(label, fn, Type, re);
  assert.is(getInfo().usedBytes, used, `${label}: a failed construction leaked wasm memory`);
}

const MAKERS = [
  ['DSConv2d.fromFloat', (w, o) => DSConv2d.fromFloat(w, o)],
  ['new Conv2d', (w, o) => new Conv2d(w, o)],
  ['conv2d()', (w, o) => conv2d(new Float32Array(1), w, { ...o, height: 5, width: 5 })],
];

test('init() must come first (fresh process), and init() is idempotent', async () => {
  const index = new URL('../../dist/core/index.js', import.meta.url).href;
  const code = `
    import { Conv2d, DSConv2d, conv2d, getInfo, init } from ${JSON.stringify(index)};
    const out = [];
    const w = new Float32Array(9);
    const o = { inChannels: 1, outChannels: 1, kernelSize: 3 };
    for (const f of [() => new Conv2d(w, o), () => DSConv2d.fromFloat(w, o), () => getInfo(),
      () => conv2d(new Float32Array(9), w, { ...o, height: 3, width: 3 })]) {
      try { f(); out.push('no error'); } catch (e) { out.push(e.constructor.name + ': ' + e.message); }
    }
    await Promise.all([init(), init()]);
    await init();
    out.push(String(conv2d(new Float32Array(9).fill(1), new Float32Array(9).fill(2), { ...o, height: 3, width: 3 })[0]));
    console.log(JSON.stringify(out));
  `;
  const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: fileURLToPath(new URL('.', import.meta.url)), encoding: 'utf8',
  });
  const out = JSON.parse(stdout.trim().split('\n').pop());
  for (const line of out.slice(0, 4)) assert.match(line, /^Error: .*init\(\)/, line);
  assert.is(out[4], '18');
  await init(); // again in this process: a no-op
  stillWorks('init() again');
});

test('new DSConv2d(...) (private in TypeScript) is a TypeError pointing to the factories', () => {
  refuses('new DSConv2d(weights, options)', () => new DSConv2d(W, BASE), TypeError, /^DSConv2d has no public constructor: make one with DSConv2d\.fromFloat\(weights, options\)/);
  refuses('new DSConv2d()', () => new DSConv2d(), TypeError, /fromQuantized\(\{ q, scales \}, options\) or DSConv2d\.fromBytes\(bytes\)$/);
});

test('weights: type and length', () => {
  for (const [name, make] of MAKERS) {
    for (const bad of [new Float64Array(288), Array.from(W), new Int8Array(288), null, undefined, W.buffer]) {
      refuses(`${name} weights ${Object.prototype.toString.call(bad)}`, () => make(bad, BASE), TypeError, /^weights /);
    }
    for (const n of [0, 287, 289, 8 * 4]) {
      refuses(`${name} weights length ${n}`, () => make(new Float32Array(n), BASE), RangeError, /^weights .*288/);
    }
  }
});

test('weights containing NaN/Infinity name the first bad index', () => {
  for (const [name, make] of MAKERS) {
    for (const [k, v] of [[0, NaN], [17, Infinity], [287, -Infinity]]) {
      const w = W.slice();
      w[k] = v;
      if (k !== 287) w[287] = NaN; // a later bad value must not be the one reported
      refuses(`${name} weights[${k}] = ${v}`, () => make(w, BASE), RangeError, new RegExp(`weights\\[${k}\\]`));
    }
  }
});

test('options: not an object', () => {
  for (const [name, make] of MAKERS.slice(0, 2)) {
    for (const bad of [null, undefined, 3, 'opts', [4, 8, 3]]) {
      refuses(`${name} options ${String(bad)}`, () => make(W, bad), TypeError, /options/);
    }
  }
});

test('integer options: wrong type is a TypeError, wrong value a RangeError, both named', () => {
  // Values that are wrong for every one of these options.
  const badValues = [[1.5, RangeError], [0, RangeError], [-1, RangeError], [NaN, RangeError], [Infinity, RangeError],
    ['3', TypeError], [null, TypeError], [true, TypeError], [{}, TypeError]];
  const fields = ['inChannels', 'outChannels', 'kernelSize', 'stride', 'dilation', 'groups'];
  for (const [name, make] of MAKERS) {
    for (const field of fields) {
      for (const [v, Type] of badValues) {
        refuses(`${name} ${field} = ${String(v)}`, () => make(W, { ...BASE, [field]: v }), Type, new RegExp(`options\\.${field}`));
      }
    }
    // Pair forms name the element.
    for (const field of ['kernelSize', 'stride', 'dilation']) {
      refuses(`${name} ${field} [3, 0]`, () => make(W, { ...BASE, [field]: [3, 0] }), RangeError, new RegExp(`options\\.${field}\\[1\\]`));
      refuses(`${name} ${field} [1.5, 1]`, () => make(W, { ...BASE, [field]: [1.5, 1] }), RangeError, new RegExp(`options\\.${field}\\[0\\]`));
      refuses(`${name} ${field} ['1', 1]`, () => make(W, { ...BASE, [field]: ['1', 1] }), TypeError, new RegExp(`options\\.${field}\\[0\\]`));
      refuses(`${name} ${field} [3]`, () => make(W, { ...BASE, [field]: [3] }), TypeError, new RegExp(`options\\.${field}`));
      refuses(`${name} ${field} [3, 3, 3]`, () => make(W, { ...BASE, [field]: [3, 3, 3] }), TypeError, new RegExp(`options\\.${field}`));
    }
  }
});

test('unknown options are a TypeError naming the option and listing the known ones', () => {
  const known = (names) => names.join(', ').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const layerKeys = ['inChannels', 'outChannels', 'kernelSize', 'stride', 'padding', 'dilation', 'groups', 'bias', 'activation', 'bits', 'blockSize', 'mantissaBits', 'depthwiseBlocks'];
  const dsconv = new RegExp(`^options has an unknown option "bitz"; the options are ${known([...layerKeys, 'gamma', 'delta'])}$`);
  refuses('fromFloat { bitz }', () => DSConv2d.fromFloat(W, { ...BASE, bitz: 3 }), TypeError, dsconv);
  refuses('fromQuantized { bitz }', () => DSConv2d.fromQuantized({ q: new Int8Array(W.length), scales: new Float32Array(8 * 9) }, { ...BASE, bitz: 3 }), TypeError, dsconv);
  // Checked before the fields: a misspelt required option is named as such, not as missing.
  refuses('fromFloat { kernelsize }', () => DSConv2d.fromFloat(W, { inChannels: 4, outChannels: 8, kernelsize: 3 }), TypeError, /unknown option "kernelsize"/);
  // Conv2d takes the quantization settings too (one options object can make both layers) but has no CDS.
  const f = new Conv2d(W, { ...BASE, bits: 3, blockSize: 8 });
  f.dispose();
  refuses('Conv2d { gamma }', () => new Conv2d(W, { ...BASE, gamma: new Float32Array(8) }), TypeError,
    new RegExp(`^options has an unknown option "gamma"; the options are ${known(layerKeys)}$`));
  refuses('conv2d() { heigth }', () => conv2d(X, W, { ...BASE, heigth: 5, height: 5, width: 5 }), TypeError,
    new RegExp(`^options has an unknown option "heigth"; the options are ${known([...layerKeys, 'batch', 'height', 'width', 'layout', 'outputLayout'])}$`));
  const layer = DSConv2d.fromFloat(W, BASE);
  throws('forward shape { layot }', () => layer.forward(X, { height: 5, width: 5, layot: 'NHWC' }), TypeError,
    /^shape has an unknown option "layot"; the options are batch, height, width, layout, outputLayout$/);
  layer.dispose();
  // The one-shot conv still splits its options into the layer's and the shape's.
  const ok = conv2d(X, W, { ...BASE, height: 5, width: 5, layout: 'NCHW', bits: 4 });
  assert.is(ok.length, 8 * 3 * 3);
});

test('padding: bad numbers, arrays and strings', () => {
  for (const [name, make] of MAKERS) {
    for (const v of [-1, 1.5, NaN, Infinity]) {
      refuses(`${name} padding ${v}`, () => make(W, { ...BASE, padding: v }), RangeError, /options\.padding/);
    }
    refuses(`${name} padding [1, -1]`, () => make(W, { ...BASE, padding: [1, -1] }), RangeError, /options\.padding\[1\]/);
    refuses(`${name} padding [0, 0, 0.5, 0]`, () => make(W, { ...BASE, padding: [0, 0, 0.5, 0] }), RangeError, /options\.padding\[2\]/);
    refuses(`${name} padding [0, 0, 0, NaN]`, () => make(W, { ...BASE, padding: [0, 0, 0, NaN] }), RangeError, /options\.padding\[3\]/);
    refuses(`${name} padding [1, 'a', 1, 1]`, () => make(W, { ...BASE, padding: [1, 'a', 1, 1] }), TypeError, /options\.padding\[1\]/);
    for (const v of [[1, 1, 1], [1], {}, true, null]) {
      refuses(`${name} padding ${JSON.stringify(v)}`, () => make(W, { ...BASE, padding: v }), TypeError, /options\.padding/);
    }
    // A string is an accepted kind of padding, so an unknown one is a wrong value, like activation 'gelu'.
    for (const v of ['1', 'SAME', 'full']) {
      refuses(`${name} padding ${v}`, () => make(W, { ...BASE, padding: v }), RangeError, /options\.padding/);
    }
  }
});

test('groups must divide both channel counts', () => {
  for (const [name, make] of MAKERS) {
    refuses(`${name} groups 3`, () => make(W, { ...BASE, groups: 3 }), RangeError, /options\.groups/);
    // Divides inChannels (4) but not outChannels (6).
    refuses(`${name} groups 4, out 6`, () => make(new Float32Array(6 * 9), { ...BASE, outChannels: 6, groups: 4 }), RangeError, /options\.groups/);
    // Divides outChannels (8) but not inChannels (4).
    refuses(`${name} groups 8`, () => make(W, { ...BASE, groups: 8 }), RangeError, /options\.groups/);
  }
});

test('quantization options: bits, blockSize, mantissaBits, depthwiseBlocks', () => {
  const f = (o) => () => DSConv2d.fromFloat(W, { ...BASE, ...o });
  for (const bits of [1, 9, 4.5, 0, -4, NaN, 16]) refuses(`bits ${bits}`, f({ bits }), RangeError, /options\.bits/);
  refuses('bits "4"', f({ bits: '4' }), TypeError, /options\.bits/);
  for (const blockSize of [0, -1, 2.5, NaN]) refuses(`blockSize ${blockSize}`, f({ blockSize }), RangeError, /options\.blockSize/);
  refuses('blockSize "32"', f({ blockSize: '32' }), TypeError, /options\.blockSize/);
  for (const mantissaBits of [1, 9, 0, 7.5]) {
    refuses(`mantissaBits ${mantissaBits}`, f({ mantissaBits }), RangeError, /options\.mantissaBits/);
  }
  refuses('mantissaBits "8"', f({ mantissaBits: '8' }), TypeError, /options\.mantissaBits/);
  refuses("depthwiseBlocks 'taps' on a dense layer", f({ depthwiseBlocks: 'taps' }), RangeError, /options\.depthwiseBlocks/);
  refuses("depthwiseBlocks 'taps' on groups 2", () => DSConv2d.fromFloat(new Float32Array(8 * 2 * 9), { ...BASE, groups: 2, depthwiseBlocks: 'taps' }),
    RangeError, /options\.depthwiseBlocks/);
  refuses("depthwiseBlocks 'pixels'", f({ depthwiseBlocks: 'pixels' }), RangeError, /options\.depthwiseBlocks/);
  refuses('depthwiseBlocks 1', f({ depthwiseBlocks: 1 }), TypeError, /options\.depthwiseBlocks/);
  // The valid edges are accepted.
  for (const o of [{ bits: 2 }, { bits: 8 }, { mantissaBits: 2 }, { mantissaBits: 8 }, { blockSize: 1 }, { blockSize: 1000 }]) {
    f(o)().dispose();
  }
  const dw = DSConv2d.fromFloat(new Float32Array(4 * 9).fill(1), { ...BASE, outChannels: 4, groups: 4, depthwiseBlocks: 'taps' });
  dw.dispose();
});

test('bias, gamma, delta: type and length; activation', () => {
  for (const [name, make] of MAKERS) {
    refuses(`${name} bias length 7`, () => make(W, { ...BASE, bias: new Float32Array(7) }), RangeError, /options\.bias/);
    refuses(`${name} bias length 9`, () => make(W, { ...BASE, bias: new Float32Array(9) }), RangeError, /options\.bias/);
    refuses(`${name} bias Array`, () => make(W, { ...BASE, bias: new Array(8).fill(0) }), TypeError, /options\.bias/);
    refuses(`${name} bias Float64Array`, () => make(W, { ...BASE, bias: new Float64Array(8) }), TypeError, /options\.bias/);
    refuses(`${name} activation 'gelu'`, () => make(W, { ...BASE, activation: 'gelu' }), RangeError, /options\.activation/);
    refuses(`${name} activation 'RELU'`, () => make(W, { ...BASE, activation: 'RELU' }), RangeError, /options\.activation/);
    refuses(`${name} activation 1`, () => make(W, { ...BASE, activation: 1 }), TypeError, /options\.activation/);
  }
  for (const [name, make] of MAKERS) {
    for (const [k, v] of [[0, NaN], [5, Infinity], [7, -Infinity]]) {
      const bias = new Float32Array(8);
      bias[k] = v;
      refuses(`${name} bias[${k}] = ${v}`, () => make(W, { ...BASE, bias }), RangeError, new RegExp(`options\\.bias\\[${k}\\]`));
    }
  }
  for (const field of ['gamma', 'delta']) {
    const bad = new Float32Array(8).fill(1);
    bad[3] = NaN;
    refuses(`${field}[3] NaN`, () => DSConv2d.fromFloat(W, { ...BASE, [field]: bad }), RangeError, new RegExp(`options\\.${field}\\[3\\]`));
    const layer = DSConv2d.fromFloat(W, BASE);
    throws(`setCDS ${field}[3] NaN`, () => (field === 'gamma' ? layer.setCDS(bad) : layer.setCDS(undefined, bad)), RangeError, new RegExp(`${field}\\[3\\]`));
    layer.dispose();
  }
  for (const field of ['gamma', 'delta']) {
    refuses(`${field} length 7`, () => DSConv2d.fromFloat(W, { ...BASE, [field]: new Float32Array(7) }), RangeError, new RegExp(`options\\.${field}`));
    refuses(`${field} length 0`, () => DSConv2d.fromFloat(W, { ...BASE, [field]: new Float32Array(0) }), RangeError, new RegExp(`options\\.${field}`));
    refuses(`${field} Array`, () => DSConv2d.fromFloat(W, { ...BASE, [field]: new Array(8).fill(1) }), TypeError, new RegExp(`options\\.${field}`));
  }
  const layer = DSConv2d.fromFloat(W, BASE);
  const before = layer.forward(X, { height: 5, width: 5 });
  throws('setCDS gamma length 7', () => layer.setCDS(new Float32Array(7)), RangeError, /gamma/);
  throws('setCDS delta length 9', () => layer.setCDS(undefined, new Float32Array(9)), RangeError, /delta/);
  throws('setCDS gamma Array', () => layer.setCDS([1, 1, 1, 1, 1, 1, 1, 1]), TypeError, /gamma/);
  // A failed setCDS leaves the layer as it was.
  assert.ok(sameBits(layer.forward(X, { height: 5, width: 5 }), before), 'failed setCDS changed the layer');
  layer.dispose();
});

/** Layers to run forward() errors on: DSConv 4- and 8-bit, depthwise DSConv, Conv2d, depthwise Conv2d. */
function forwardLayers() {
  const dw = randn(r, 4 * 9);
  return [
    ['DSConv2d 4-bit', DSConv2d.fromFloat(W, BASE)],
    ['DSConv2d 8-bit', DSConv2d.fromFloat(W, { ...BASE, bits: 8, blockSize: 3 })],
    ['DSConv2d depthwise', DSConv2d.fromFloat(dw, { ...BASE, outChannels: 4, groups: 4 })],
    ['Conv2d', new Conv2d(W, BASE)],
    ['Conv2d depthwise', new Conv2d(dw, { ...BASE, outChannels: 4, groups: 4 })],
  ];
}

test('forward: input type and length, shape fields, layouts, empty output', () => {
  for (const [name, layer] of forwardLayers()) {
    const good = layer.forward(X, { height: 5, width: 5 });
    const fw = (x, s) => () => layer.forward(x, s);
    const S = { height: 5, width: 5 };
    for (const bad of [Array.from(X), new Float64Array(100), new Uint8Array(100), null, undefined, X.buffer]) {
      throws(`${name} input ${Object.prototype.toString.call(bad)}`, fw(bad, S), TypeError, /^input /);
    }
    for (const n of [0, 99, 101, 200]) throws(`${name} input length ${n}`, fw(new Float32Array(n), S), RangeError, /^input .*100/);
    throws(`${name} batch 2 with one image`, fw(X, { ...S, batch: 2 }), RangeError, /^input .*200/);
    throws(`${name} shape null`, fw(X, null), TypeError, /shape/);
    throws(`${name} shape missing`, fw(X), TypeError, /shape/);
    for (const [field, v, Type] of [
      ['batch', 0, RangeError], ['batch', -1, RangeError], ['batch', 1.5, RangeError], ['batch', '1', TypeError],
      ['height', 1.5, RangeError], ['height', 0, RangeError], ['height', NaN, RangeError], ['height', '5', TypeError],
      ['height', undefined, TypeError], ['width', -5, RangeError], ['width', Infinity, RangeError], ['width', null, TypeError],
    ]) {
      throws(`${name} shape.${field} = ${String(v)}`, fw(X, { ...S, [field]: v }), Type, new RegExp(`shape\\.${field}`));
    }
    for (const field of ['layout', 'outputLayout']) {
      throws(`${name} ${field} 'NCWH'`, fw(X, { ...S, [field]: 'NCWH' }), RangeError, new RegExp(`shape\\.${field}`));
      throws(`${name} ${field} 'nchw'`, fw(X, { ...S, [field]: 'nchw' }), RangeError, new RegExp(`shape\\.${field}`));
      throws(`${name} ${field} 0`, fw(X, { ...S, [field]: 0 }), TypeError, new RegExp(`shape\\.${field}`));
    }
    // 3x3 kernel, no padding: 2x5 and 5x2 inputs have no output.
    throws(`${name} 2x5 input`, fw(new Float32Array(40), { height: 2, width: 5 }), RangeError, /output would be empty/);
    throws(`${name} 5x2 input`, fw(new Float32Array(40), { height: 5, width: 2 }), RangeError, /output would be empty/);
    throws(`${name} outputSize 1x1`, () => layer.outputSize(1, 1), RangeError, /output would be empty/);
    throws(`${name} outputSize -1x3`, () => layer.outputSize(-1, 3), RangeError, /shape\.height/);
    throws(`${name} outputSize 3x2.5`, () => layer.outputSize(3, 2.5), RangeError, /shape\.width/);
    // Sizes within range need no tensor of that size.
    assert.equal(layer.outputSize(100000, 3), [99998, 1]);
    assert.ok(sameBits(layer.forward(X, { height: 5, width: 5 }), good), `${name}: output changed after errors`);
    layer.dispose();
  }
});

test('forward: out must be a Float32Array of the output length; it is filled and returned', () => {
  for (const [name, layer] of forwardLayers()) {
    const S = { height: 5, width: 5 };
    const good = layer.forward(X, S);
    for (const bad of [Array.from(good), new Float64Array(good.length), null, good.buffer, 'out']) {
      throws(`${name} out ${Object.prototype.toString.call(bad)}`, () => layer.forward(X, S, bad), TypeError,
        new RegExp(`^out must be a Float32Array of length ${good.length} \\(NCHW `));
    }
    for (const n of [0, good.length - 1, good.length + 1]) {
      throws(`${name} out length ${n}`, () => layer.forward(X, { ...S, outputLayout: 'NHWC' }, new Float32Array(n)), RangeError,
        new RegExp(`^out must have length ${good.length} \\(NHWC \\[1\\]\\[`));
    }
    const out = new Float32Array(good.length).fill(NaN);
    assert.is(layer.forward(X, S, out), out, `${name}: forward returns out`);
    assert.ok(sameBits(out, good), `${name}: out holds the same output`);
    layer.dispose();
  }
  // out may even be the input's own array: the input is copied into wasm memory first.
  const same = DSConv2d.fromFloat(W.subarray(0, 4 * 4 * 9), { ...BASE, outChannels: BASE.inChannels, padding: 1 });
  const want = same.forward(X, { height: 5, width: 5 });
  const x = X.slice();
  assert.is(want.length, x.length);
  assert.ok(sameBits(same.forward(x, { height: 5, width: 5 }, x), want), 'out aliasing the input');
  same.dispose();
});

test('forward: NaN/Infinity in the input names the first bad index (both layouts, batches)', () => {
  for (const [name, layer] of forwardLayers()) {
    const S = { height: 5, width: 5 };
    const good = layer.forward(X, S);
    for (const [k, v] of [[5, NaN], [0, Infinity], [99, -Infinity], [42, NaN]]) {
      for (const layout of ['NCHW', 'NHWC']) {
        const x = X.slice();
        x[k] = v;
        if (k < 99) x[99] = NaN;
        const copy = x.slice();
        throws(`${name} input[${k}] = ${v} ${layout}`, () => layer.forward(x, { ...S, layout }), RangeError, new RegExp(`input\\[${k}\\]`));
        assert.ok(sameBits(x, copy), 'the bad input was modified');
      }
    }
    // In the second image of a batch.
    const x2 = new Float32Array(200);
    x2.set(X);
    x2.set(X, 100);
    x2[137] = NaN;
    throws(`${name} batch input[137]`, () => layer.forward(x2, { ...S, batch: 2 }), RangeError, /input\[137\]/);
    // The NaN at a new shape must not poison the cached state for other shapes.
    const x7 = randn(r, 4 * 7 * 6);
    const want7 = layer.forward(x7, { height: 7, width: 6 });
    const bad7 = x7.slice();
    bad7[3] = NaN;
    layer.forward(X, S);
    throws(`${name} NaN at 7x6`, () => layer.forward(bad7, { height: 7, width: 6 }), RangeError, /input\[3\]/);
    assert.ok(sameBits(layer.forward(X, S), good), `${name}: output changed after NaN errors`);
    assert.ok(sameBits(layer.forward(x7, { height: 7, width: 6 }), want7), `${name}: 7x6 output changed after NaN errors`);
    // Subnormals are not errors (flushed to zero by BFP, used as is by Conv2d).
    const sub = X.slice();
    sub[7] = 1e-40;
    sub[8] = -1e-45;
    const out = layer.forward(sub, S);
    assert.ok(out.every(Number.isFinite), `${name}: subnormal input`);
    layer.dispose();
  }
  // The one-shot conv2d checks its input too.
  const x = X.slice();
  x[5] = NaN;
  throws('conv2d() input[5]', () => conv2d(x, W, { ...BASE, height: 5, width: 5 }), RangeError, /input\[5\]/);
});

test('forward: NaN/Infinity found by the integer kernels\' BFP pass (blocks of 8 and 32, groups)', () => {
  // forwardLayers() has 4 input channels, whose blocks take the float path; these take the integer one.
  const H = 4, Wd = 3;
  for (const [label, o] of [
    ['B 8', { inChannels: 24, outChannels: 8, kernelSize: 3, padding: 1, bits: 4, blockSize: 8 }],
    ['B 32 8-bit', { inChannels: 40, outChannels: 16, kernelSize: 1, bits: 8 }],
    ['groups 2', { inChannels: 16, outChannels: 8, kernelSize: 3, padding: 1, groups: 2, bits: 6, blockSize: 8 }],
  ]) {
    const w = randn(r, o.outChannels * (o.inChannels / (o.groups ?? 1)) * o.kernelSize ** 2);
    const layer = DSConv2d.fromFloat(w, o);
    const n = o.inChannels * H * Wd;
    const x = randn(r, 2 * n);
    const good = layer.forward(x, { batch: 2, height: H, width: Wd });
    for (const k of [0, 7, n - 1, n, 2 * n - 1]) {
      for (const v of [NaN, Infinity, -Infinity]) {
        for (const layout of ['NCHW', 'NHWC']) {
          const bad = x.slice();
          bad[k] = v;
          if (k + 1 < bad.length) bad[bad.length - 1] = NaN; // a later one must not be the one named
          throws(`${label} input[${k}] = ${v} ${layout}`, () => layer.forward(bad, { batch: 2, height: H, width: Wd, layout }),
            RangeError, new RegExp(`^input\\[${k}\\] is ${v}`));
        }
      }
    }
    assert.ok(sameBits(layer.forward(x, { batch: 2, height: H, width: Wd }), good), `${label}: output changed after NaN errors`);
    layer.dispose();
  }
});

test('forward does not modify its input (same array, many calls, both layouts)', () => {
  for (const [name, layer] of forwardLayers()) {
    const x = randn(r, 2 * 4 * 6 * 6);
    const copy = x.slice();
    const first = layer.forward(x, { batch: 2, height: 6, width: 6 });
    for (let i = 0; i < 3; i++) {
      assert.ok(sameBits(layer.forward(x, { batch: 2, height: 6, width: 6 }), first), `${name}: repeatable`);
      layer.forward(x, { batch: 2, height: 6, width: 6, layout: 'NHWC', outputLayout: 'NCHW' });
      assert.ok(sameBits(x, copy), `${name}: input modified`);
    }
    assert.is.not(first.buffer, x.buffer);
    layer.dispose();
  }
});

test('a disposed layer throws TypeError from forward, toBytes, residentBytes, ...', () => {
  const q = DSConv2d.fromFloat(W, BASE);
  const f = new Conv2d(W, BASE);
  q.forward(X, { height: 5, width: 5 });
  q.dispose();
  f.dispose();
  q.dispose(); // twice is fine
  assert.ok(q.isDisposed && f.isDisposed);
  for (const [label, fn] of [
    ['DSConv2d forward', () => q.forward(X, { height: 5, width: 5 })],
    ['DSConv2d toBytes', () => q.toBytes()],
    ['DSConv2d residentBytes', () => q.residentBytes],
    ['DSConv2d outputSize', () => q.outputSize(5, 5)],
    ['DSConv2d weights', () => q.weights],
    ['DSConv2d setCDS', () => q.setCDS()],
    ['DSConv2d weightBytes', () => q.weightBytes],
    ['DSConv2d options()', () => q.options()],
    ['Conv2d forward', () => f.forward(X, { height: 5, width: 5 })],
    ['Conv2d residentBytes', () => f.residentBytes],
    ['Conv2d outputSize', () => f.outputSize(5, 5)],
  ]) {
    throws(label, fn, TypeError, /disposed/);
  }
});

/** Rewrites the CRC-32 at the end of a blob so that only the intended change is seen. */
function fixCrc(b) {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
  return b;
}

test('fromBytes: not a Uint8Array', () => {
  for (const bad of [Array.from(blob), blob.buffer, new Int8Array(blob), new Uint8ClampedArray(blob), new DataView(blob.buffer), null, undefined, 'DSCV']) {
    refuses(`fromBytes ${Object.prototype.toString.call(bad)}`, () => DSConv2d.fromBytes(bad), TypeError, /bytes/);
  }
  // A Node Buffer is a Uint8Array, and a blob at an odd offset of a larger buffer still reads.
  const want = DSConv2d.fromBytes(blob);
  const big = new Uint8Array(blob.length + 3);
  big.set(blob, 3);
  for (const b of [Buffer.from(blob), big.subarray(3)]) {
    const l = DSConv2d.fromBytes(b);
    assert.ok(sameBits(l.forward(X, { height: 5, width: 5 }), want.forward(X, { height: 5, width: 5 })));
    l.dispose();
  }
  want.dispose();
});

test('fromBytes: truncated anywhere, or with trailing bytes', () => {
  for (const cut of [0, 1, 4, 7, 8, 40, 87, 88, 91, 92, 100, blob.length - 40, blob.length - 5, blob.length - 4, blob.length - 1]) {
    refuses(`cut at ${cut}`, () => DSConv2d.fromBytes(blob.slice(0, cut)), RangeError, /truncated/);
  }
  for (const extra of [1, 3, 4, 64]) {
    const b = new Uint8Array(blob.length + extra);
    b.set(blob);
    refuses(`${extra} trailing bytes`, () => DSConv2d.fromBytes(b), RangeError, /too long/);
    refuses(`${extra} trailing bytes, CRC moved`, () => DSConv2d.fromBytes(fixCrc(b.slice())), RangeError, /too long/);
  }
});

test('fromBytes: flipped bytes in the payload and in the header', () => {
  const headerBytes = 88;
  // Payload: first packed byte, a scale, the bias/gamma tail, the CRC itself.
  for (const at of [headerBytes, headerBytes + 50, blob.length - 40, blob.length - 8, blob.length - 1]) {
    const b = blob.slice();
    b[at] ^= 0x10;
    refuses(`payload byte ${at}`, () => DSConv2d.fromBytes(b), RangeError, /corrupt|checksum|CRC/);
  }
  // Header fields that do not change the size: stride, dilation, padding, mantissaBits, activation.
  for (const field of [4, 6, 10, 16, 18]) {
    const b = blob.slice();
    b[8 + 4 * field] ^= 0x01;
    refuses(`header field ${field}`, () => DSConv2d.fromBytes(b), RangeError, /corrupt|checksum|CRC/);
  }
  // Exhaustive: every single-bit flip anywhere is a RangeError, never a layer or another error.
  let n = 0;
  for (let at = 0; at < blob.length; at++) {
    for (let bit = 0; bit < 8; bit++) {
      const b = blob.slice();
      b[at] ^= 1 << bit;
      let err;
      try {
        DSConv2d.fromBytes(b).dispose();
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof RangeError, `bit ${bit} of byte ${at}: ${err ? `${err.constructor.name}: ${err.message}` : 'accepted'}`);
      assert.match(err.message, /^bytes /);
      n++;
    }
  }
  assert.is(n, blob.length * 8);
  stillWorks('bit flips');
});

test('fromBytes: wrong magic, wrong version (with a valid CRC), bad options behind a valid CRC', () => {
  const m = blob.slice();
  m[0] = 0x58; // 'X'
  refuses('magic', () => DSConv2d.fromBytes(m), RangeError, /magic/);
  refuses('magic, CRC fixed', () => DSConv2d.fromBytes(fixCrc(m)), RangeError, /magic/);
  for (const version of [0, 2, 0xffffffff]) {
    const v = blob.slice();
    new DataView(v.buffer).setUint32(4, version, true);
    refuses(`version ${version}`, () => DSConv2d.fromBytes(fixCrc(v)), RangeError, new RegExp(`version ${version}`));
  }
  // Header values the layer's own validation refuses, with the CRC fixed up.
  const patch = (field, value) => {
    const b = blob.slice();
    new DataView(b.buffer).setUint32(8 + 4 * field, value, true);
    return fixCrc(b);
  };
  refuses('mantissaBits 9 in the header', () => DSConv2d.fromBytes(patch(16, 9)), RangeError, /mantissaBits/);
  refuses('mantissaBits 1 in the header', () => DSConv2d.fromBytes(patch(16, 1)), RangeError, /mantissaBits/);
  refuses('stride 0 in the header', () => DSConv2d.fromBytes(patch(4, 0)), RangeError, /stride/);
  refuses('bits 9 in the header', () => DSConv2d.fromBytes(patch(14, 9)), RangeError, /bytes/);
  refuses('activation 7 in the header', () => DSConv2d.fromBytes(patch(18, 7)), RangeError, /bytes/);
  refuses('inChannels 2^31 in the header', () => DSConv2d.fromBytes(patch(0, 2 ** 31)), RangeError, /bytes/);
  refuses('huge kernel in the header', () => DSConv2d.fromBytes(patch(2, 65536)), RangeError, /bytes/);
  refuses('padding mode 7 in the header', () => DSConv2d.fromBytes(patch(9, 7)), RangeError, /bytes has a corrupt header/);
  refuses('block mode 2 in the header', () => DSConv2d.fromBytes(patch(17, 2)), RangeError, /bytes has a corrupt header/);
  refuses('unknown flag bit in the header', () => DSConv2d.fromBytes(patch(19, 8)), RangeError, /bytes has a corrupt header/);
});

test('fromQuantized: q out of range, scales not finite, wrong types', () => {
  for (const bits of [2, 4, 5, 8]) {
    const lo = -(2 ** (bits - 1));
    const hi = 2 ** (bits - 1) - 1;
    const q = new Int8Array(288).map((_, k) => (k % 3) - 1);
    const scales = new Float32Array(8 * 9).fill(0.01);
    const ok = DSConv2d.fromQuantized({ q: q.map((_, k) => (k % 2 ? lo : hi)), scales }, { ...BASE, bits });
    ok.dispose();
    if (bits < 8) {
      const a = q.slice();
      a[11] = hi + 1;
      refuses(`bits ${bits} q = ${hi + 1}`, () => DSConv2d.fromQuantized({ q: a, scales }, { ...BASE, bits }), RangeError, /weights\.q\[11\]/);
      const b = q.slice();
      b[200] = lo - 1;
      refuses(`bits ${bits} q = ${lo - 1}`, () => DSConv2d.fromQuantized({ q: b, scales }, { ...BASE, bits }), RangeError, /weights\.q\[200\]/);
    }
    for (const [k, v] of [[0, NaN], [13, Infinity], [71, -Infinity]]) {
      const s = scales.slice();
      s[k] = v;
      refuses(`scales[${k}] = ${v}`, () => DSConv2d.fromQuantized({ q, scales: s }, { ...BASE, bits }), RangeError, new RegExp(`weights\\.scales\\[${k}\\]`));
    }
  }
  const q = new Int8Array(288);
  const scales = new Float32Array(72);
  refuses('q Uint8Array', () => DSConv2d.fromQuantized({ q: new Uint8Array(288), scales }, BASE), TypeError, /weights\.q/);
  refuses('q length', () => DSConv2d.fromQuantized({ q: new Int8Array(287), scales }, BASE), RangeError, /weights\.q/);
  refuses('scales Float64Array', () => DSConv2d.fromQuantized({ q, scales: new Float64Array(72) }, BASE), TypeError, /weights\.scales/);
  refuses('scales length', () => DSConv2d.fromQuantized({ q, scales: new Float32Array(71) }, BASE), RangeError, /weights\.scales/);
  refuses('taps scales length', () => DSConv2d.fromQuantized({ q: new Int8Array(36), scales: new Float32Array(36) },
    { ...BASE, outChannels: 4, groups: 4, depthwiseBlocks: 'taps' }), RangeError, /weights\.scales/);
  refuses('weights null', () => DSConv2d.fromQuantized(null, BASE), TypeError, /weights/);
  refuses('options bad', () => DSConv2d.fromQuantized({ q, scales }, { ...BASE, bits: 9 }), RangeError, /options\.bits/);
});

test.run();
