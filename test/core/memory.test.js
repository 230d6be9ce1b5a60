// Wasm memory: steady-state forward calls allocate nothing, disposing frees everything a layer
// held, memory grows when a bigger layer or input needs it, and churning layers does not creep.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { init, getInfo, trimMemory, Conv2d, DSConv2d } from 'dsconv';
import { rt } from '../../dist/core/internal.js';
import { rng, randn } from '../util.js';

const r = rng(9090);
const MAX = { batch: 2, height: 8, width: 8 };

/** Layer recipes: all tiny (4..8 channels) so 10,000 calls stay fast. */
const SPECS = [
  { name: 'DSConv 4-bit 3x3 same', kind: 'q', o: { inChannels: 8, outChannels: 8, kernelSize: 3, padding: 'same', bits: 4 } },
  { name: 'DSConv 8-bit stride 2', kind: 'q', o: { inChannels: 6, outChannels: 4, kernelSize: 3, stride: 2, padding: 1, bits: 8, blockSize: 4, activation: 'relu' }, bias: true },
  { name: 'DSConv 3-bit groups 2', kind: 'q', o: { inChannels: 8, outChannels: 6, kernelSize: [1, 3], padding: [0, 1], groups: 2, bits: 3 } },
  { name: 'DSConv depthwise channels', kind: 'q', o: { inChannels: 7, outChannels: 7, kernelSize: 3, padding: 'same', groups: 7 } },
  { name: 'DSConv depthwise taps dil 2', kind: 'q', o: { inChannels: 5, outChannels: 5, kernelSize: 3, padding: 2, dilation: 2, groups: 5, depthwiseBlocks: 'taps', mantissaBits: 6 } },
  { name: 'Conv2d 2x2', kind: 'f', o: { inChannels: 5, outChannels: 7, kernelSize: 2, activation: 'relu6' }, bias: true },
  { name: 'Conv2d depthwise', kind: 'f', o: { inChannels: 6, outChannels: 6, kernelSize: 3, padding: 'same', groups: 6 } },
  { name: 'Conv2d 1x1', kind: 'f', o: { inChannels: 4, outChannels: 8, kernelSize: 1 } },
];
for (const s of SPECS) {
  const kh = Array.isArray(s.o.kernelSize) ? s.o.kernelSize[0] : s.o.kernelSize;
  const kw = Array.isArray(s.o.kernelSize) ? s.o.kernelSize[1] : s.o.kernelSize;
  s.weights = randn(r, s.o.outChannels * (s.o.inChannels / (s.o.groups ?? 1)) * kh * kw);
  if (s.bias) s.o.bias = randn(r, s.o.outChannels);
}

function make(s) {
  return s.kind === 'q' ? DSConv2d.fromFloat(s.weights, s.o) : new Conv2d(s.weights, s.o);
}

/** Bytes the shared scratch buffers hold, as the heap counts them (16-byte aligned, >= 16). */
function scratchBytes() {
  let n = 0;
  for (const s of Object.values(rt().scratch)) if (s.size > 0) n += Math.ceil(Math.max(s.size, 16) / 16) * 16;
  return n;
}

/** Runs every layer on its largest shape in both layouts. */
function warm(layers) {
  for (const [s, layer] of layers) {
    for (const layout of ['NCHW', 'NHWC']) {
      layer.forward(new Float32Array(MAX.batch * s.o.inChannels * MAX.height * MAX.width), { ...MAX, layout });
    }
  }
}

const inputs = new Map();
function inputFor(c, batch, h, w) {
  const key = `${c},${batch},${h},${w}`;
  if (!inputs.has(key)) inputs.set(key, randn(r, batch * c * h * w));
  return inputs.get(key);
}

test.before(async () => {
  await init();
});

test('10,000 mixed forward calls at or below the warm-up shape do not grow memory; dispose frees all', () => {
  // Whatever other test files left alive, besides the shared scratch buffers.
  const others = getInfo().usedBytes - scratchBytes();
  // Pass 1: bring the shared scratch buffers to their high-water mark for these shapes.
  let layers = SPECS.map((s) => [s, make(s)]);
  warm(layers);
  layers.forEach(([, l]) => l.dispose());
  const baselineUsed = getInfo().usedBytes;
  assert.is(baselineUsed - scratchBytes(), others, 'after disposing, only the shared scratch buffers grew');

  // Pass 2: the same layers again.
  layers = SPECS.map((s) => [s, make(s)]);
  warm(layers);
  const info = getInfo();
  const resident = layers.map(([, l]) => l.residentBytes);
  const seen = new Map();
  let checked = 0;
  for (let i = 0; i < 10000; i++) {
    const [s, layer] = layers[Math.floor(r.uniform() * layers.length)];
    const batch = 1 + Math.floor(r.uniform() * MAX.batch);
    const h = 3 + Math.floor(r.uniform() * (MAX.height - 2)); // 3..8: every layer has an output
    const w = 3 + Math.floor(r.uniform() * (MAX.width - 2));
    const layout = r.uniform() < 0.5 ? 'NCHW' : 'NHWC';
    const outputLayout = r.uniform() < 0.5 ? 'NCHW' : 'NHWC';
    const x = inputFor(s.o.inChannels, batch, h, w);
    const y = layer.forward(x, { batch, height: h, width: w, layout, outputLayout });
    // The same call again later must give the same bits: reused scratch leaves nothing stale.
    const key = `${s.name}|${batch}|${h}|${w}|${layout}|${outputLayout}`;
    const prev = seen.get(key);
    if (prev) {
      assert.is(y.length, prev.length);
      for (let k = 0; k < y.length; k++) if (!Object.is(y[k], prev[k])) assert.unreachable(`${key}: element ${k} ${y[k]} != ${prev[k]} on call ${i}`);
      checked++;
    } else {
      seen.set(key, y);
    }
  }
  assert.ok(checked > 5000, `only ${checked} repeated calls`);
  const after = getInfo();
  assert.is(after.memoryBytes, info.memoryBytes, 'memoryBytes grew during steady-state calls');
  assert.is(after.usedBytes, info.usedBytes, 'usedBytes changed during steady-state calls');
  layers.forEach(([, l], i) => assert.is(l.residentBytes, resident[i], 'residentBytes changed'));
  layers.forEach(([, l]) => l.dispose());
  assert.is(getInfo().usedBytes, baselineUsed, 'usedBytes did not return to its starting value');
});

test('residentBytes covers at least the packed weights', () => {
  for (const s of SPECS) {
    const l = make(s);
    l.forward(inputFor(s.o.inChannels, 1, 8, 8), { height: 8, width: 8 });
    const min = s.kind === 'q' ? l.weightBytes.total : s.weights.byteLength;
    assert.ok(l.residentBytes >= min, `${s.name}: residentBytes ${l.residentBytes} < ${min}`);
    l.dispose();
  }
});

test('creating and disposing 1,000 layers does not grow memory after the first few', () => {
  const base = getInfo().usedBytes;
  let mem = 0;
  for (let i = 0; i < 1000; i++) {
    const s = SPECS[i % SPECS.length];
    const l = make(s);
    l.forward(inputFor(s.o.inChannels, 1, 6, 5), { height: 6, width: 5 });
    if (s.kind === 'q' && i % 3 === 0) DSConv2d.fromBytes(l.toBytes()).dispose();
    l.dispose();
    if (i === 2 * SPECS.length) mem = getInfo().memoryBytes;
    // Each layer gives back exactly what it took.
    if (getInfo().usedBytes !== base) assert.unreachable(`layer ${i} (${s.name}) leaked ${getInfo().usedBytes - base} bytes`);
  }
  assert.is(getInfo().memoryBytes, mem, 'memory grew while churning layers');
});

test('a bigger layer grows memory; freed space is reused afterwards', () => {
  const base = getInfo();
  // 1x1 conv whose float weights alone are larger than all of memory now.
  const c = Math.ceil(Math.sqrt(base.memoryBytes / 4)) + 8;
  const w = new Float32Array(c * c);
  for (let k = 0; k < w.length; k++) w[k] = ((k * 7919) % 1000) / 1000 - 0.5;
  const big = new Conv2d(w, { inChannels: c, outChannels: c, kernelSize: 1 });
  const grown = getInfo().memoryBytes;
  assert.ok(grown > base.memoryBytes, `memory did not grow: ${grown} <= ${base.memoryBytes}`);
  assert.ok(big.residentBytes >= w.byteLength);
  // It works: one pixel, input e_0, output = column 0 of the weights.
  const x = new Float32Array(c);
  x[0] = 1;
  const y = big.forward(x, { height: 1, width: 1 });
  for (let o = 0; o < c; o += 97) assert.is(y[o], w[o * c], `big layer output ${o}`);
  big.dispose();
  assert.ok(getInfo().usedBytes <= base.usedBytes + scratchBytes(), 'the big layer was not freed');
  const memAfterBig = getInfo().memoryBytes;
  // A DSConv layer of similar size fits in the space the float layer gave back.
  const q = DSConv2d.fromFloat(w, { inChannels: c, outChannels: c, kernelSize: 1 });
  assert.is(getInfo().memoryBytes, memAfterBig, 'freed memory was not reused');
  q.dispose();
});

test('a bigger input grows memory through the scratch buffers, and results stay right', () => {
  const before = getInfo().memoryBytes;
  const w = new Float32Array([1, 0, 0, 0, 0, 2, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0.5]); // 1x1, 4->4: diagonal
  const l = new Conv2d(w, { inChannels: 4, outChannels: 4, kernelSize: 1 });
  const hw = Math.ceil(before / 16) + 1024; // 4 channels x 4 bytes: the input alone exceeds memory
  const side = Math.ceil(Math.sqrt(hw));
  const x = new Float32Array(4 * side * side);
  for (let k = 0; k < x.length; k++) x[k] = (k % 251) - 125;
  const y = l.forward(x, { height: side, width: side });
  assert.ok(getInfo().memoryBytes > before, 'memory did not grow for a big input');
  const scale = [1, 2, -1, 0.5];
  for (let k = 0; k < y.length; k += 1013) assert.is(y[k], x[k] * scale[Math.floor(k / (side * side))], `output ${k}`);
  // The same memory serves the next big call.
  const mem = getInfo().memoryBytes;
  l.forward(x, { height: side, width: side, layout: 'NHWC' });
  assert.is(getInfo().memoryBytes, mem);
  l.dispose();
});

test('re-setting CDS many times does not grow memory (steady state)', () => {
  const s = SPECS[0];
  const l = make(s);
  const x = inputFor(s.o.inChannels, 1, 6, 6);
  const gamma = new Float32Array(s.o.outChannels).fill(1.5);
  const delta = new Float32Array(s.o.outChannels).fill(0.25);
  l.setCDS(gamma, delta);
  l.forward(x, { height: 6, width: 6 });
  const used = getInfo().usedBytes;
  for (let i = 0; i < 1000; i++) {
    l.setCDS(i % 2 ? gamma : undefined, delta);
    l.forward(x, { height: 6, width: 6 });
  }
  l.setCDS(gamma, delta);
  l.forward(x, { height: 6, width: 6 });
  const grew = getInfo().usedBytes - used;
  l.dispose();
  assert.is(grew, 0, `usedBytes grew by ${grew} bytes over 1,000 setCDS + forward calls`);
});

test('trimMemory() gives the shared scratch of one huge call back to the allocator; calls after it compute the same', () => {
  const w = new Float32Array([1, 0, 0, 0, 0, 2, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0.5]); // 1x1, 4->4: diagonal
  const l = DSConv2d.fromFloat(w, { inChannels: 4, outChannels: 4, kernelSize: 1, bits: 8, blockSize: 4 });
  const small = inputFor(4, 1, 6, 6);
  const want = l.forward(small, { height: 6, width: 6 });
  const side = 512; // 4 MiB of input, as much again of output, and the BFP buffers
  const huge = new Float32Array(4 * side * side).fill(0.5);
  l.forward(huge, { height: side, width: side });
  const grown = getInfo().usedBytes, scratch = scratchBytes();
  assert.ok(scratch > 8 * side * side * 4, `scratch after the huge call: ${scratch} bytes`);
  trimMemory();
  assert.is(scratchBytes(), 0, 'scratch buffers still held');
  assert.is(getInfo().usedBytes, grown - scratch, 'usedBytes did not drop by the scratch bytes');
  // The layer's own buffers are untouched, and the next call allocates what it needs again.
  assert.ok(sameBits(l.forward(small, { height: 6, width: 6 }), want), 'output changed after trimMemory()');
  assert.ok(scratchBytes() < scratch / 100, `scratch after a small call: ${scratchBytes()} bytes`);
  l.dispose();
});

test('forward sizes its input copy from the shape: a subclass whose byteLength lies cannot write past it', () => {
  class Liar extends Float32Array {
    get byteLength() { return 16; }
  }
  const s = SPECS[0];
  const victim = make(s);
  const x = inputFor(s.o.inChannels, 2, 8, 8);
  const want = victim.forward(x, { batch: 2, height: 8, width: 8 });
  // No scratch left: the input copy gets a block of just the size asked for, among the layers' blocks.
  trimMemory();
  const layer = make(s);
  const y = layer.forward(new Liar(x), { batch: 2, height: 8, width: 8 });
  assert.ok(rt().scratch.input.size >= x.length * 4, `input copy sized ${rt().scratch.input.size} bytes for ${x.length * 4}`);
  assert.ok(sameBits(y, want), 'the subclass gives the output of a plain Float32Array');
  assert.ok(sameBits(victim.forward(x, { batch: 2, height: 8, width: 8 }), want), "another layer's output changed");
  layer.dispose();
  victim.dispose();
});

function sameBits(a, b) {
  return a.length === b.length && a.every((v, k) => Object.is(v, b[k]));
}

test.run();
