// Guest runtimes (core/guest.ts): the module instantiated again over another module's memory,
// allocating from that module's malloc, as the TF.js plug-in does on tfjs-backend-wasm's heap.
// Layers made on one read and write views of that memory in place, compute exactly what the same
// layers on dsconv's own runtime compute, leave their input untouched and give back every byte.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { init, profile, DSConv2d, Conv2d } from 'dsconv';
import { rt, guestRuntime, withRuntime } from '../../dist/core/internal.js';
import { readFileSync } from 'node:fs';
import { rng, randn, onRuntime, onSplittingThreads, identical } from '../util.js';

await init();
const r = rng(4242);

/**
 * A stand-in for an emscripten module's heap: a bump allocator over its own memory that grows it
 * when full, and whose blocks start at 8 mod 16 (emscripten's malloc aligns to 8 only).
 */
function hostHeap() {
  const memory = new WebAssembly.Memory({ initial: 2 }); // the builds declare 2 pages at least
  const live = new Map();
  let top = 64;
  return {
    memory, live,
    /** Takes what is left of the memory, so that the next malloc grows it. */
    fill() {
      return this.malloc(memory.buffer.byteLength - top - 24);
    },
    malloc(bytes) {
      const at = top + (24 - (top % 16)) % 16; // the next 8 mod 16
      const need = at + bytes - memory.buffer.byteLength;
      if (need > 0) memory.grow(Math.ceil(need / 65536));
      top = at + bytes;
      live.set(at, bytes);
      return at;
    },
    free(ptr) {
      if (!live.delete(ptr)) throw new Error(`free of ${ptr}, which malloc did not give`);
    },
  };
}

/** The host's copy of `data` (a view of its memory) and the offset it lives at. */
function place(host, data) {
  const at = host.malloc(data.byteLength);
  const view = new Float32Array(host.memory.buffer, at, data.length);
  view.set(data);
  return { at, view: () => new Float32Array(host.memory.buffer, at, data.length) };
}

/** Runs fn with the plain single-thread build installed. */
const onPlainRuntime = (fn) => onRuntime({ threads: 1 }, fn);

const CASES = [
  { name: 'DSConv 4-bit 3x3', make: (w, o) => DSConv2d.fromFloat(w, o), o: { inChannels: 24, outChannels: 16, kernelSize: 3, padding: 'same', bits: 4 } },
  { name: 'DSConv 8-bit 1x1 relu6', make: (w, o) => DSConv2d.fromFloat(w, o), o: { inChannels: 40, outChannels: 32, kernelSize: 1, bits: 8, activation: 'relu6' } },
  // Channels filling the lanes, NHWC: the BFP pass reads the input where it lies.
  { name: 'DSConv depthwise taps', make: (w, o) => DSConv2d.fromFloat(w, o), o: { inChannels: 32, outChannels: 32, groups: 32, kernelSize: 3, padding: 'same', depthwiseBlocks: 'taps' } },
  { name: 'DSConv stem 3 channels stride 2', make: (w, o) => DSConv2d.fromFloat(w, o), o: { inChannels: 3, outChannels: 8, kernelSize: 3, stride: 2, padding: 1 } },
  { name: 'Conv2d 3x3', make: (w, o) => new Conv2d(w, o), o: { inChannels: 8, outChannels: 12, kernelSize: 3, padding: 1 } },
];

// On 2 threads the guest is the threaded build's plain twin, and dsconv's own layers split every call.
for (const [layout, threads] of [['NHWC', 1], ['NCHW', 1], ['NHWC', 2]]) {
  test(`${layout}, ${threads} thread(s): a guest runtime's layers read and write the host's memory in place, bit-identical to dsconv's own, the input unchanged`, async () => {
    await (threads === 1 ? onPlainRuntime : (fn) => onSplittingThreads(threads, fn))(() => {
      const host = hostHeap();
      const guest = guestRuntime(host);
      assert.type(guest, 'object', `no guest runtime: ${guest}`);
      assert.is(guest.build, rt().build, 'the guest runs the installed build');
      assert.is(guest.threads, 1);
      const runs = rt().pool?.runs;
      for (const c of CASES) {
        const g = c.o.groups ?? 1;
        const w = randn(r, c.o.outChannels * (c.o.inChannels / g) * c.o.kernelSize ** 2).map((v) => v * 0.2);
        const shape = { batch: 2, height: 9, width: 7, layout };
        const x = randn(r, 2 * 9 * 7 * c.o.inChannels);
        const own = c.make(w, c.o);
        const want = own.forward(x, shape);
        const layer = withRuntime(guest, () => c.make(w, c.o));
        const input = place(host, x);
        const output = place(host, new Float32Array(want.length).fill(NaN));
        const full = host.fill();
        const passed = output.view();
        const got = layer.forward(input.view(), shape, passed);
        // The first call allocates its scratch from the host, whose memory is full, so it grows:
        // the output view passed in is detached, and forward returns a new one over the same bytes.
        assert.is(passed.length, 0, `${c.name}: the host's memory grew`);
        assert.is(got.buffer, host.memory.buffer, `${c.name}: the returned output is a view of the host's memory`);
        assert.ok(identical(got, want), `${c.name}: the returned output differs from the own runtime's layer`);
        assert.ok(identical(output.view(), want), `${c.name}: the output in the host's memory differs`);
        assert.ok(identical(input.view(), x), `${c.name}: the input in the host's memory was modified`);
        // A second call, memory no longer growing, writes into the very view it was given.
        const out2 = output.view();
        out2.fill(0);
        assert.is(layer.forward(input.view(), shape, out2), out2, `${c.name}: a second call returns the view it was given`);
        assert.ok(identical(out2, want), `${c.name}: second call`);
        // In place: the guest never allocated the scratch copies of input and output.
        assert.is(guest.scratch.input.size, 0, `${c.name}: the input was copied`);
        assert.is(guest.scratch.output.size, 0, `${c.name}: the output was copied`);
        // profile() times a guest's kernels as well as the installed runtime's.
        const prof = profile(() => layer.forward(input.view(), shape, output.view()));
        assert.ok(Object.values(prof.calls).reduce((a, b) => a + b, 0) >= 2, `${c.name}: profile() saw the guest's calls`);
        // An input from elsewhere (not in the host's memory) is copied in, as on dsconv's own runtime.
        assert.ok(identical(layer.forward(x, shape), want), `${c.name}: an input outside the host's memory`);
        assert.ok(guest.scratch.input.size > 0, `${c.name}: an input outside the host's memory is copied in`);
        guest.trim();
        own.dispose();
        layer.dispose();
        host.free(input.at);
        host.free(output.at);
        host.free(full);
      }
      assert.ok(rt().heap.usedBytes > 0 && guest.heap.usedBytes > 0);
      if (threads > 1) assert.ok(rt().pool.runs > runs, 'the own layers ran split, on the workers');
      guest.close();
      assert.is(guest.heap.usedBytes, 0, 'the guest holds nothing after close()');
      assert.is(host.live.size, 0, 'every block from the host\'s malloc was freed');
    });
  });
}

test('views whose getters lie (buffer, byteOffset, length) are read and written where the engine says they are', async () => {
  await onPlainRuntime(() => {
    const host = hostHeap();
    const guest = guestRuntime(host);
    const o = CASES[0].o;
    const w = randn(r, o.outChannels * o.inChannels * 9).map((v) => v * 0.2);
    const shape = { batch: 1, height: 5, width: 6, layout: 'NHWC' };
    const x = randn(r, 5 * 6 * o.inChannels);
    const own = DSConv2d.fromFloat(w, o);
    const want = own.forward(x, shape);
    const layer = withRuntime(guest, () => DSConv2d.fromFloat(w, o));
    layer.forward(x, shape); // scratch allocated: no growth below
    const input = place(host, x);
    const decoy = place(host, new Float32Array(want.length).fill(7));
    const output = place(host, new Float32Array(want.length));
    class Liar extends Float32Array {
      get byteOffset() { return decoy.at; }
      get buffer() { return new ArrayBuffer(8); }
    }
    const out = new Liar(host.memory.buffer, output.at, want.length);
    layer.forward(new Liar(host.memory.buffer, input.at, x.length), shape, out);
    assert.ok(identical(output.view(), want), 'written where the view really is');
    assert.ok(decoy.view().every((v) => v === 7), 'nothing written where its getter points');
    class Long extends Float32Array {
      get length() { return want.length; }
    }
    const short = new Long(host.memory.buffer, output.at, want.length - 4);
    assert.throws(() => layer.forward(input.view(), shape, short), (e) => e instanceof RangeError && e.message.includes(`got ${want.length - 4}`));
    own.dispose();
    layer.dispose();
    guest.close();
  });
});

test('a host whose malloc fails is a RangeError saying so; a threaded build given alone makes no guest, and says why', async () => {
  const host = hostHeap();
  await onPlainRuntime(() => {
    assert.throws(() => guestRuntime({ memory: host.memory, malloc: () => 0, free: host.free }),
      (e) => e instanceof RangeError && /could not allocate \d+ bytes from the host module's heap/.test(e.message));
  });
  const threaded = readFileSync(new URL('../../build/dsconv-threads.wasm', import.meta.url));
  await onRuntime({ threads: 2, wasmBinary: threaded }, (r) => {
    assert.is(r.threads, 2);
    assert.is(guestRuntime(host), 'the loaded module is a threaded build, and no single-thread twin was given beside it');
  });
  const wasmUrl = { simd: 'no/such/dsconv.wasm', simdThreads: new URL('../../build/dsconv-threads.wasm', import.meta.url) };
  await onRuntime({ threads: 2, wasmUrl, build: 'simd' }, (r) => {
    assert.is(r.threads, 2, 'the threaded runtime runs without its twin');
    assert.match(guestRuntime(host), /^the loaded module is a threaded build, and its single-thread twin did not load: dsconv could not read options.wasmUrl.simd from /);
  });
  await onRuntime({ threads: 2, wasmBinary: { simd: threaded, simdThreads: threaded }, build: 'simd' }, () => {
    assert.is(guestRuntime(host), 'the loaded module is a threaded build, and its single-thread twin did not load: the module given as the simd build is another build');
  });
  assert.is(host.live.size, 0);
});

test.run();
