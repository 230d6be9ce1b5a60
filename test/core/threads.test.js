// Threads: outputs bit-identical for every thread count (the DSConv and float sweeps on 1, 2, 3
// and 4 threads against one), a worker that throws, exits, hangs or is terminated fails the call
// in progress with a clear Error and never a hang, bad input is refused before any worker runs,
// memory grows while the workers run, and a script with a pool up exits when it is done.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DSConv2d, Conv2d, init, getInfo } from 'dsconv';
import { loadRuntime, install, rt, FAULT_THROW, FAULT_EXIT, FAULT_HANG, part, splitTiles } from '../../dist/core/internal.js';
import { rng, randn } from '../util.js';

const run = promisify(execFile);
const R = rng(4242);

/** Layers that reach every path and every way a call is split. */
const SPECS = [
  { name: 'int4 3x3 dense', o: { inChannels: 40, outChannels: 24, kernelSize: 3, padding: 'same', activation: 'relu', bits: 4 }, h: 13, w: 11 },
  { name: 'int8 3x3/2 groups 3 NHWC batch 3', o: { inChannels: 36, outChannels: 30, kernelSize: 3, stride: 2, padding: 1, groups: 3, bits: 8, blockSize: 8 }, h: 10, w: 9, batch: 3, layout: 'NHWC' },
  { name: 'int4 1x1 many outputs, few pixels', o: { inChannels: 64, outChannels: 200, kernelSize: 1, bits: 4 }, h: 3, w: 5 },
  { name: 'int4 stem 3 channels 7x7/2', o: { inChannels: 3, outChannels: 16, kernelSize: 7, stride: 2, padding: 'same', bits: 4, mantissaBits: 6 }, h: 30, w: 26 },
  { name: 'int3 short blocks (dequant path), NCHW in NHWC out', o: { inChannels: 12, outChannels: 10, kernelSize: 3, padding: 1, bits: 3, blockSize: 2 }, h: 7, w: 9, outputLayout: 'NHWC' },
  { name: 'depthwise channels relu6 batch 2', o: { inChannels: 21, outChannels: 21, groups: 21, kernelSize: 3, padding: 'same', activation: 'relu6' }, h: 15, w: 14, batch: 2 },
  { name: 'depthwise taps dilation 2', o: { inChannels: 9, outChannels: 9, groups: 9, kernelSize: 3, padding: 2, dilation: 2, depthwiseBlocks: 'taps' }, h: 11, w: 12 },
  { name: 'float 3x3 dense', float: true, o: { inChannels: 20, outChannels: 28, kernelSize: 3, padding: 'same' }, h: 12, w: 9 },
  { name: 'float stem 3 channels 3x3/2 (row runs) NHWC batch 2', float: true, o: { inChannels: 3, outChannels: 16, kernelSize: 3, stride: 2, padding: 'same' }, h: 21, w: 17, batch: 2, layout: 'NHWC' },
  { name: 'float grouped NHWC batch 2', float: true, o: { inChannels: 16, outChannels: 12, kernelSize: [1, 3], padding: [0, 1], groups: 4 }, h: 6, w: 17, batch: 2, layout: 'NHWC' },
  { name: 'float depthwise stride 2', float: true, o: { inChannels: 10, outChannels: 10, groups: 10, kernelSize: 3, stride: 2, padding: 1 }, h: 19, w: 13 },
];
for (const s of SPECS) {
  const [kh, kw] = Array.isArray(s.o.kernelSize) ? s.o.kernelSize : [s.o.kernelSize, s.o.kernelSize];
  s.weights = randn(R, s.o.outChannels * (s.o.inChannels / (s.o.groups ?? 1)) * kh * kw);
  s.o.bias = randn(R, s.o.outChannels);
  s.input = randn(R, (s.batch ?? 1) * s.o.inChannels * s.h * s.w);
  s.shape = { batch: s.batch ?? 1, height: s.h, width: s.w, layout: s.layout, outputLayout: s.outputLayout };
}

const make = (s) => (s.float ? new Conv2d(s.weights, s.o) : DSConv2d.fromFloat(s.weights, s.o));
const bitsOf = (y) => Array.from(new Uint32Array(y.buffer, y.byteOffset, y.length));

/** A runtime on `threads` threads that splits every call, however small. */
async function splitting(threads) {
  const r = await loadRuntime({ threads });
  r.splitMinMacs = 0;
  return r;
}

/** Runs `fn` with runtime r installed (layers made inside belong to it), then puts `was` back. */
function within(r, fn) {
  const was = rt();
  install(r);
  try {
    return fn();
  } finally {
    install(was);
  }
}

function outputs(r) {
  return within(r, () => SPECS.map((s) => {
    const l = make(s);
    try {
      return bitsOf(l.forward(s.input, s.shape));
    } finally {
      l.dispose();
    }
  }));
}

let one;
test.before(async () => {
  await init();
  one = outputs(await loadRuntime({ threads: 1 }));
});

test('a call splits into near-equal runs and the tile split balances rows against channel tiles', () => {
  assert.equal([0, 1, 2].map((i) => part(10, 3, i, 1)), [[0, 3], [3, 6], [6, 10]]);
  assert.equal([0, 1].map((i) => part(10, 2, i, 4)), [[0, 4], [4, 10]], 'starts aligned down to 4');
  assert.equal(splitTiles(100, 8, 2), [1, 2], 'a tie goes to channel tiles');
  assert.equal(splitTiles(13, 1, 4), [4, 1], 'depthwise: rows only');
  assert.equal(splitTiles(3, 64, 4), [1, 4]);
  assert.equal(splitTiles(1, 1, 4), [1, 1], 'nothing to split');
  assert.equal(splitTiles(9, 2, 4), [2, 2], '5 x 1 tiles per share beats 3 x 2');
});

for (const threads of [2, 3, 4]) {
  test(`${threads} threads: every layer bit-identical to one thread`, async () => {
    const r = await splitting(threads);
    assert.is(r.threads, threads);
    const before = r.pool.runs;
    const got = outputs(r);
    assert.ok(r.pool.runs > before, 'the calls ran on the pool');
    SPECS.forEach((s, i) => assert.equal(got[i], one[i], `${s.name} on ${threads} threads`));
    r.shutdown();
  });
}

test('the runtime in use reports its threads; init({ threads }) is checked', async () => {
  const info = getInfo();
  assert.type(info.threads, 'number');
  assert.ok(info.threads >= 1);
  for (const bad of [0, 65, 1.5, '2', null]) {
    try {
      await loadRuntime({ threads: bad });
      assert.unreachable(`threads: ${bad}`);
    } catch (e) {
      assert.instance(e, RangeError);
      assert.match(e.message, /^options\.threads must be 'auto' or an integer from 1 to 64, got /);
    }
  }
});

/** A pool runtime, a layer on it and that layer's one-thread output. */
async function rig(threads = 2) {
  const r = await splitting(threads);
  const s = SPECS[0];
  const layer = within(r, () => make(s));
  const other = within(r, () => make(SPECS[7]));
  const call = (l = layer, spec = s) => within(r, () => bitsOf(l.forward(spec.input, spec.shape)));
  return { r, call, layer, other };
}

test('a worker that throws fails that call with its message; the pool carries on', async () => {
  const { r, call, other } = await rig(3);
  const otherBefore = call(other, SPECS[7]);
  r.pool.injectFault(2, FAULT_THROW);
  assert.throws(() => call(), (e) => e instanceof Error && /^dsconv: worker 2 failed: a fault injected by a test$/.test(e.message));
  assert.is(r.threads, 3, 'still on 3 threads');
  assert.equal(call(), one[0], 'the next call is right');
  assert.equal(call(other, SPECS[7]), otherBefore, "another layer's results are intact");
  r.shutdown();
});

test('a worker that exits during a call: the call throws, later calls run on one thread and say why', async () => {
  const { r, call } = await rig();
  r.pool.injectFault(1, FAULT_EXIT);
  assert.throws(() => call(), /^dsconv: worker 1 exited during a call; the thread pool is shut down and calls now run on one thread$/);
  assert.is(r.threads, 1);
  assert.equal(call(), one[0]);
  const info = within(r, () => getInfo());
  assert.is(info.threads, 1);
  assert.match(info.threadsReason, /worker 1 exited during a call/);
});

test('a worker that hangs: the wait is bounded by stallMs, never a hang', async () => {
  const { r, call } = await rig();
  r.pool.stallMs = 200;
  r.pool.injectFault(1, FAULT_HANG);
  const t = performance.now();
  assert.throws(() => call(), /^dsconv: no worker made progress for 200 ms; the thread pool is shut down/);
  assert.ok(performance.now() - t < 5000);
  assert.equal(call(), one[0]);
});

test('a worker terminated between calls: the pool notices, calls run on one thread', async () => {
  const { r, call } = await rig();
  r.pool.terminateWorker(1);
  for (let i = 0; i < 100 && !r.pool.broken; i++) await new Promise((f) => setTimeout(f, 20));
  assert.match(r.pool.broken, /^worker 1 it exited/);
  assert.is(r.threads, 1);
  assert.equal(call(), one[0]);
  assert.match(within(r, () => getInfo()).threadsReason, /worker 1 it exited/);
});

test('bad input is refused before any worker starts', async () => {
  const { r, layer } = await rig();
  const runs = r.pool.runs;
  assert.throws(() => within(r, () => layer.forward(new Float32Array(5), SPECS[0].shape)), RangeError);
  const nan = SPECS[0].input.slice();
  nan[77] = NaN;
  assert.throws(() => within(r, () => layer.forward(nan, SPECS[0].shape)), /input\[77\] is NaN/);
  assert.is(r.pool.runs, runs + 1, 'only the NaN call ran (its BFP pass found the NaN)');
  r.shutdown();
});

test('memory grows while the workers run, and they compute on the grown memory', async () => {
  const r = await splitting(2);
  const s = { ...SPECS[0] };
  const small = within(r, () => outputs(r));
  SPECS.forEach((spec, i) => assert.equal(small[i], one[i]));
  const bytes = r.memoryBytes;
  s.shape = { height: 120, width: 130 };
  s.input = randn(R, s.o.inChannels * 120 * 130);
  const l1 = make(s);
  const want = bitsOf(l1.forward(s.input, s.shape));
  l1.dispose();
  const got = within(r, () => {
    const l = make(s);
    return bitsOf(l.forward(s.input, s.shape));
  });
  assert.ok(r.memoryBytes > bytes + 4e6, `memory grew (${bytes} -> ${r.memoryBytes})`);
  assert.equal(got, want);
  r.shutdown();
});

test('shutdown() ends the workers: calls go on on one thread', async () => {
  const { r, call } = await rig();
  r.shutdown();
  assert.is(r.threads, 1);
  assert.equal(call(), one[0]);
  assert.is(within(r, () => getInfo()).threadsReason, 'shutdown() was called');
});

test('a script that is done exits with the pool up', async () => {
  const code = `
    import { init, getInfo, DSConv2d } from 'dsconv';
    await init({ threads: 3 });
    const l = DSConv2d.fromFloat(new Float32Array(64 * 64 * 9).fill(0.01), { inChannels: 64, outChannels: 64, kernelSize: 3, padding: 'same' });
    l.forward(new Float32Array(64 * 40 * 40).fill(1), { height: 40, width: 40 });
    console.log(String(getInfo().threads));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { timeout: 20000, cwd: new URL('.', import.meta.url) });
  assert.is(stdout.trim(), '3');
});

test.run();
