// toBytes/fromBytes round trips bit for bit; weightBytes reports the storage at rest; setCDS
// applies y' = gamma * y + delta before the activation, and setCDS() clears it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { init, DSConv2d, FORMAT_VERSION, packInts } from 'dsconv';
import { crc32 } from 'dsconv/reference';
import { rng, randn } from '../util.js';

const r = rng(31337);
const HEADER_BYTES = 88; // magic, version, 20 u32 fields

test.before(async () => {
  await init();
});

function sameBits(a, b) {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (!Object.is(a[k], b[k])) return false;
  return true;
}

function assertSameBits(a, b, label) {
  assert.is(a.length, b.length, `${label}: length`);
  for (let k = 0; k < a.length; k++) {
    if (!Object.is(a[k], b[k])) assert.unreachable(`${label}: element ${k} ${a[k]} != ${b[k]}`);
  }
}

function kernel(o) {
  return Array.isArray(o.kernelSize) ? o.kernelSize : [o.kernelSize, o.kernelSize];
}

function weightCount(o) {
  const [kh, kw] = kernel(o);
  return o.outChannels * (o.inChannels / (o.groups ?? 1)) * kh * kw;
}

/** Options objects compared field by field; typed arrays by Object.is per element. */
function assertSameOptions(a, b, label) {
  assert.equal(Object.keys(a).sort(), Object.keys(b).sort(), `${label}: option keys`);
  for (const k of Object.keys(a)) {
    if (a[k] instanceof Float32Array || b[k] instanceof Float32Array) {
      assert.ok(a[k] instanceof Float32Array && b[k] instanceof Float32Array, `${label}: options.${k} type`);
      assertSameBits(a[k], b[k], `${label}: options.${k}`);
    } else {
      assert.equal(a[k], b[k], `${label}: options.${k}`);
    }
  }
}

// Every case: options for DSConv2d.fromFloat plus an input shape.
const CASES = [];
for (let bits = 2; bits <= 8; bits++) {
  CASES.push({ name: `bits ${bits}`, o: { inChannels: 12, outChannels: 6, kernelSize: 3, padding: 'same', bits, blockSize: 5 } });
}
CASES.push({ name: 'odd weight count, 4-bit (half-filled last byte)', o: { inChannels: 3, outChannels: 3, kernelSize: 3, padding: 1, bits: 4, bias: true } });
CASES.push({ name: 'taps', o: { inChannels: 6, outChannels: 6, kernelSize: [3, 2], groups: 6, depthwiseBlocks: 'taps', bits: 3, padding: 'same', gamma: true, delta: true } });
CASES.push({ name: 'taps, multiplier 2', o: { inChannels: 4, outChannels: 8, kernelSize: 3, groups: 4, depthwiseBlocks: 'taps', bits: 6, padding: [1, 1], activation: 'relu' } });
CASES.push({ name: 'depthwise channels', o: { inChannels: 5, outChannels: 5, kernelSize: 3, groups: 5, bits: 2, padding: 'same', bias: true } });
CASES.push({ name: 'groups, stride, dilation, explicit padding', o: {
  inChannels: 8, outChannels: 6, kernelSize: [2, 3], groups: 2, stride: [2, 1], dilation: [1, 2], padding: [1, 0, 2, 1],
  bits: 5, mantissaBits: 4, blockSize: 3, activation: 'relu6', bias: true,
} });
for (let mask = 0; mask < 8; mask++) {
  const o = { inChannels: 10, outChannels: 4, kernelSize: 1, bits: 4, blockSize: 4 };
  if (mask & 1) o.bias = true;
  if (mask & 2) o.gamma = true;
  if (mask & 4) o.delta = true;
  CASES.push({ name: `bias ${!!(mask & 1)} gamma ${!!(mask & 2)} delta ${!!(mask & 4)}`, o });
}
for (const activation of ['none', 'relu', 'relu6']) {
  CASES.push({ name: `activation ${activation}`, o: { inChannels: 7, outChannels: 9, kernelSize: 2, padding: 'same', bits: 7, mantissaBits: 5, activation, bias: true, gamma: true } });
}

/** Materialises a case: random weights (one all-zero block), bias, gamma, delta. */
function build(c) {
  const o = { ...c.o };
  for (const k of ['bias', 'gamma', 'delta']) if (o[k]) o[k] = randn(r, o.outChannels).map((v) => (k === 'gamma' ? 1 + 0.3 * v : v));
  const w = randn(r, weightCount(o));
  const [kh, kw] = kernel(o);
  // Zero all input channels of output 0 at tap (0, 0): an all-zero block, whose scale is 0.
  for (let ch = 0; ch < o.inChannels / (o.groups ?? 1); ch++) w[ch * kh * kw] = 0;
  return { o, w };
}

function inputFor(o) {
  const shape = { batch: 2, height: 6, width: 7 };
  const x = randn(r, shape.batch * o.inChannels * shape.height * shape.width);
  for (let k = 0; k < 20; k++) x[k] = 0;
  return { x, shape };
}

test('toBytes/fromBytes round trip is bit-exact (weights, scales, options, outputs, bytes)', () => {
  for (const c of CASES) {
    const { o, w } = build(c);
    const a = DSConv2d.fromFloat(w, o);
    const blob = a.toBytes();
    assert.ok(blob instanceof Uint8Array, c.name);
    const b = DSConv2d.fromBytes(blob);
    const wa = a.weights;
    const wb = b.weights;
    assert.ok(wa.q instanceof Int8Array && wb.q instanceof Int8Array);
    assertSameBits(wb.q, wa.q, `${c.name}: q`);
    assertSameBits(wb.scales, wa.scales, `${c.name}: scales`);
    assert.is(wb.nBlocks, wa.nBlocks, `${c.name}: nBlocks`);
    assert.equal({ ...b.quantization }, { ...a.quantization }, `${c.name}: quantization`);
    assertSameOptions(b.options(), a.options(), c.name);
    assert.equal(b.weightBytes, a.weightBytes, `${c.name}: weightBytes`);
    // The options that went in come back out.
    const opts = a.options();
    for (const k of ['inChannels', 'outChannels', 'bits', 'blockSize', 'mantissaBits', 'activation', 'groups']) {
      if (o[k] !== undefined) assert.is(opts[k], o[k], `${c.name}: options.${k}`);
    }
    for (const k of ['bias', 'gamma', 'delta']) {
      if (o[k]) assertSameBits(opts[k], o[k], `${c.name}: options.${k}`);
      else assert.is(opts[k], undefined, `${c.name}: options.${k} absent`);
    }
    if (o.padding === 'same') assert.is(opts.padding, 'same');
    const { x, shape } = inputFor(o);
    for (const layout of ['NCHW', 'NHWC']) {
      assertSameBits(b.forward(x, { ...shape, layout }), a.forward(x, { ...shape, layout }), `${c.name}: forward ${layout}`);
    }
    // Writing again gives the same bytes; a third generation is still identical.
    const again = b.toBytes();
    assertSameBits(again, blob, `${c.name}: bytes of the restored layer`);
    const c3 = DSConv2d.fromBytes(again);
    assertSameBits(c3.forward(x, shape), a.forward(x, shape), `${c.name}: third generation`);
    // fromQuantized with what the layer reports rebuilds the same layer.
    const d = DSConv2d.fromQuantized(a.weights, a.options());
    assertSameBits(d.toBytes(), blob, `${c.name}: fromQuantized(weights, options()) bytes`);
    [a, b, c3, d].forEach((l) => l.dispose());
  }
});

test('blob layout: magic, version, CRC, compact size, deterministic', () => {
  for (const c of CASES) {
    const { o, w } = build(c);
    const a = DSConv2d.fromFloat(w, o);
    const blob = a.toBytes();
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    assert.is(String.fromCharCode(...blob.subarray(0, 4)), 'DSCV', `${c.name}: magic`);
    assert.is(view.getUint32(4, true), FORMAT_VERSION, `${c.name}: version`);
    assert.is(view.getUint32(blob.length - 4, true), crc32(blob.subarray(0, blob.length - 4)), `${c.name}: CRC`);
    const wb = a.weightBytes;
    const optional = ['bias', 'gamma', 'delta'].filter((k) => o[k]).length;
    const expected = HEADER_BYTES + Math.ceil(wb.packed / 4) * 4 + wb.scales + 4 * optional * o.outChannels + 4;
    assert.is(blob.length, expected, `${c.name}: blob length`);
    // The packed VQK sit right after the header, as packInts writes them.
    assertSameBits(blob.subarray(HEADER_BYTES, HEADER_BYTES + wb.packed), packInts(a.weights.q, a.quantization.bits), `${c.name}: packed q`);
    const b = DSConv2d.fromFloat(w, o);
    assertSameBits(b.toBytes(), blob, `${c.name}: deterministic`);
    a.dispose();
    b.dispose();
  }
});

test('weightBytes: packed = ceil(n/2) for bits <= 4 else n; scales = 4 per KDS entry', () => {
  const shapes = [
    { inChannels: 12, outChannels: 6, kernelSize: 3, blockSize: 5 },          // nβ = 3 (5, 5, 2)
    { inChannels: 3, outChannels: 3, kernelSize: 3 },                         // n = 81, odd
    { inChannels: 64, outChannels: 16, kernelSize: 1 },                       // nβ = 2
    { inChannels: 65, outChannels: 2, kernelSize: [1, 3], blockSize: 32 },    // nβ = 3, last block of 1
    { inChannels: 8, outChannels: 6, kernelSize: [2, 3], groups: 2, blockSize: 3 }, // C_g = 4: nβ = 2
    { inChannels: 6, outChannels: 6, kernelSize: 3, groups: 6 },              // depthwise: one scale per weight
    { inChannels: 6, outChannels: 12, kernelSize: 3, groups: 6, depthwiseBlocks: 'taps' }, // one per output
  ];
  for (const s of shapes) {
    const n = weightCount(s);
    const w = randn(r, n);
    const [kh, kw] = kernel(s);
    const cg = s.inChannels / (s.groups ?? 1);
    const nBlocks = s.depthwiseBlocks === 'taps' ? 1 : Math.ceil(cg / (s.blockSize ?? 32));
    const nScales = s.depthwiseBlocks === 'taps' ? s.outChannels : s.outChannels * nBlocks * kh * kw;
    for (let bits = 2; bits <= 8; bits++) {
      const l = DSConv2d.fromFloat(w, { ...s, bits });
      const wb = l.weightBytes;
      const label = `${JSON.stringify(s)} bits ${bits}`;
      assert.is(wb.packed, bits <= 4 ? Math.ceil(n / 2) : n, `${label}: packed`);
      assert.is(wb.scales, 4 * nScales, `${label}: scales`);
      assert.is(wb.total, wb.packed + wb.scales, `${label}: total`);
      assert.is(wb.float32, 4 * n, `${label}: float32`);
      assert.is(l.weights.scales.length, nScales, `${label}: KDS entries`);
      assert.is(l.weights.nBlocks, nBlocks, `${label}: nBlocks`);
      assert.is(l.quantization.nBlocks, nBlocks, `${label}: quantization.nBlocks`);
      l.dispose();
    }
  }
  // The paper's headline: 4-bit, B = 32 is b + 32/B = 5 bits per weight, 6.4x smaller.
  const l = DSConv2d.fromFloat(randn(r, 64 * 64 * 9), { inChannels: 64, outChannels: 64, kernelSize: 3 });
  assert.is(l.weightBytes.float32 / l.weightBytes.total, 6.4);
  l.dispose();
});

test('setCDS: y\' = gamma * y + delta (activation none, with and without bias), before the activation', () => {
  for (const withBias of [false, true]) {
    const o = { inChannels: 10, outChannels: 6, kernelSize: 3, padding: 'same', bits: 4, blockSize: 4 };
    if (withBias) o.bias = randn(r, 6);
    const w = randn(r, weightCount(o));
    const gamma = new Float32Array([1.5, -0.75, 0, 2, 1, -3.25]);
    const delta = new Float32Array([0.5, -1, 2.5, 0, -0.125, 3]);
    const { x, shape } = inputFor(o);
    const npix = shape.height * shape.width;
    // Relative to the magnitudes that enter the sums: with a bias, y = acc + bias is rounded
    // before gamma scales it, while the layer scales acc and bias separately.
    const mag = (k, ch) => Math.abs(y[k]) + (o.bias ? Math.abs(o.bias[ch]) : 0);
    const plain = DSConv2d.fromFloat(w, o);
    const y = plain.forward(x, shape);
    plain.setCDS(gamma, delta);
    const yc = plain.forward(x, shape);
    for (let k = 0; k < y.length; k++) {
      const ch = Math.floor(k / npix) % 6;
      const want = gamma[ch] * y[k] + delta[ch];
      const tol = 1e-6 * (Math.abs(gamma[ch]) * mag(k, ch) + Math.abs(delta[ch])) + 1e-30;
      if (!(Math.abs(yc[k] - want) <= tol)) assert.unreachable(`bias ${withBias}: element ${k} got ${yc[k]}, want ${want}`);
    }
    // The same through the constructor options, bit for bit; and through toBytes.
    const viaOptions = DSConv2d.fromFloat(w, { ...o, gamma, delta });
    assertSameBits(viaOptions.forward(x, shape), yc, 'gamma/delta as options');
    const restored = DSConv2d.fromBytes(plain.toBytes());
    assertSameBits(restored.forward(x, shape), yc, 'setCDS survives toBytes');
    assertSameBits(plain.options().gamma, gamma, 'options().gamma');
    // Only gamma, only delta.
    plain.setCDS(gamma);
    const yg = plain.forward(x, shape);
    plain.setCDS(undefined, delta);
    const yd = plain.forward(x, shape);
    for (let k = 0; k < y.length; k++) {
      const ch = Math.floor(k / npix) % 6;
      const tg = 1e-6 * Math.abs(gamma[ch]) * mag(k, ch) + 1e-30;
      const td = 1e-6 * (mag(k, ch) + Math.abs(delta[ch])) + 1e-30;
      assert.ok(Math.abs(yg[k] - gamma[ch] * y[k]) <= tg, `gamma only, element ${k}: ${yg[k]} vs ${gamma[ch] * y[k]}`);
      assert.ok(Math.abs(yd[k] - (y[k] + delta[ch])) <= td, `delta only, element ${k}: ${yd[k]} vs ${y[k] + delta[ch]}`);
    }
    // setCDS() clears it: back to the original bits, and the blob has no CDS.
    plain.setCDS();
    assertSameBits(plain.forward(x, shape), y, 'setCDS() clears');
    assert.is(plain.options().gamma, undefined);
    assert.is(plain.options().delta, undefined);
    assertSameBits(plain.toBytes(), DSConv2d.fromFloat(w, o).toBytes(), 'cleared CDS: same bytes as never set');
    // Changing the CDS does not change the weights.
    assertSameBits(plain.weights.scales, DSConv2d.fromFloat(w, o).weights.scales, 'scales unchanged');
    [plain, viaOptions, restored].forEach((l) => l.dispose());
  }
});

test('setCDS applies before the activation (relu, relu6) and copies its arguments', () => {
  const base = { inChannels: 8, outChannels: 4, kernelSize: 3, padding: 1, bits: 6 };
  const w = randn(r, weightCount(base));
  const bias = randn(r, 4);
  const gamma = new Float32Array([-2, 0.5, 3, -0.25]); // negative gamma: order matters
  const delta = new Float32Array([1, -0.5, 2, 5.5]);
  const { x, shape } = inputFor(base);
  const npix = shape.height * shape.width;
  const none = DSConv2d.fromFloat(w, { ...base, bias });
  none.setCDS(gamma, delta);
  const lin = none.forward(x, shape);
  for (const [activation, f] of [['relu', (v) => Math.max(0, v)], ['relu6', (v) => Math.min(6, Math.max(0, v))]]) {
    const l = DSConv2d.fromFloat(w, { ...base, bias, activation });
    const g = gamma.slice();
    const d = delta.slice();
    l.setCDS(g, d);
    g.fill(100); // the layer keeps its own copy
    d.fill(100);
    const y = l.forward(x, shape);
    let clipped = 0;
    for (let k = 0; k < y.length; k++) {
      assert.ok(Object.is(y[k], f(lin[k]) + 0) || y[k] === f(lin[k]), `${activation}: element ${k} (channel ${Math.floor(k / npix) % 4}) ${y[k]} vs ${f(lin[k])}`);
      if (lin[k] !== y[k]) clipped++;
    }
    assert.ok(clipped > 0 && clipped < y.length, `${activation}: the activation clipped ${clipped} of ${y.length}`);
    l.dispose();
  }
  none.dispose();
});

test.run();
