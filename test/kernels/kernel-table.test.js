// Every kernel-table record run directly, through its execution path (the BFP pass, the weight
// packing and the micro-kernel it names), on each build that has it, against the kernel's scalar
// twin in dsconv/reference: the pre-epilogue sums must match bit for bit. Layers only reach the
// records their selection picks (on the relaxed build, never dsconv_igemm_4x8c2_dot16_q4); this
// reaches them all.
//
// Both binaries are loaded side by side (loadRuntime). Where this engine has no relaxed SIMD
// (Node 20 without flags), the relaxed records run in a child Node with relaxed SIMD switched on
// and the baseline tier off (whose relaxed dot is wrong): they are never skipped silently.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  loadRuntime, DSCONV_TABLE, FLOAT_TABLE, selectDsconv, dsconvPath, floatPath, parseGeometry, resolve, indirection, rowLayout, rowImageFloats,
} from '../../dist/core/internal.js';
import { dsconvIgemmTwin, f32ConvTwin, bfpDequantTwin, dequantWeightsTwin, outputSize, mulberry32 } from 'dsconv/reference';

const CONFIGS = 48; // per record and build
const ONLY = process.env.DSCONV_KERNEL_BUILDS?.split(','); // set for the child run
const RELAXED_FLAGS = ['--experimental-wasm-relaxed-simd', '--no-liftoff'];

/** A runtime over `build`, or the reason this engine cannot run it. */
async function runtimeFor(build) {
  try {
    return { r: await loadRuntime({ build, threads: 1 }) };
  } catch (e) {
    return { reason: e.message };
  }
}

function generator(seed) {
  const next = mulberry32(seed);
  const int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = (a) => a[Math.floor(next() * a.length)];
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return { next, int, pick, normal };
}

/** A random conv's options for parseGeometry and input size. */
function drawConv(R, depthwise) {
  const groups = depthwise ? R.int(1, 40) : R.pick([1, 1, 1, 2, 3]);
  const cg = depthwise ? 1 : R.int(1, 40);
  const og = depthwise ? 1 : R.int(1, 12);
  const options = {
    inChannels: cg * groups, outChannels: og * groups, kernelSize: [R.int(1, 3), R.int(1, 3)],
    stride: [R.int(1, 2), R.int(1, 2)], dilation: [R.int(1, 2), R.int(1, 2)],
    padding: [R.int(0, 2), R.int(0, 2), R.int(0, 2), R.int(0, 2)], groups,
  };
  return { options, height: R.int(1, 9), width: R.int(1, 9) };
}

/**
 * A conv of few channels per tap, which the float kernels read as row runs: stems up to 7x7 and
 * their edges (padding up to the kernel, images narrower than it, strides past it).
 */
function drawRowRunConv(R) {
  const kh = R.int(1, 7), kw = R.int(2, 7);
  const options = {
    inChannels: R.int(1, 8), outChannels: R.int(1, 20), kernelSize: [kh, kw],
    stride: [R.int(1, 3), R.int(1, 3)], dilation: [R.int(1, 2), 1],
    padding: [R.int(0, kh), R.int(0, kw), R.int(0, kh), R.int(0, kw)], groups: 1,
  };
  return { options, height: R.int(1, 12), width: R.int(1, 12) };
}

/** A random conv the record can run (from `conv`, default drawConv), with its quantization. */
function drawConfig(R, depthwise, bits, conv = drawConv) {
  for (;;) {
    const { options, height, width } = conv(R, depthwise);
    const g = parseGeometry(options);
    const p = { height, width };
    try { resolve(g, p); } catch { continue; } // empty output: draw again
    return {
      options, g, height, width, bits, mantissaBits: R.int(2, 8), blockSize: R.pick([1, 2, 3, 4, 5, 7, 8, 16, 32, 64]),
      mode: depthwise && R.next() < 0.5 ? 'taps' : 'channels',
    };
  }
}

/**
 * NHWC input: per pixel a random scale (now and then tiny, where ξ · 2^(E-m+2) would underflow if
 * formed first: the order of the rescale shows), some zeros, the odd subnormal (BFP flushes it).
 */
function drawInput(R, pixels, channels) {
  const x = new Float32Array(pixels * channels);
  for (let p = 0; p < pixels; p++) {
    const scale = 2 ** (R.next() < 0.2 ? R.int(-124, -110) : R.int(-12, 12));
    for (let c = 0; c < channels; c++) {
      const u = R.next();
      x[p * channels + c] = u < 0.1 ? 0 : u < 0.12 ? 1e-40 * R.normal() : scale * R.normal();
    }
  }
  return x;
}

/** VQK in range and KDS as quantizeWeights lays them out, a few scales zero. */
function drawWeights(R, c) {
  const { g } = c;
  const taps = g.kh * g.kw;
  const lo = -(2 ** (c.bits - 1)), hi = 2 ** (c.bits - 1) - 1;
  const q = Int8Array.from({ length: g.outChannels * g.groupChannels * taps }, () => R.int(lo, hi));
  const nB = c.mode === 'taps' ? 1 : Math.ceil(g.groupChannels / c.blockSize);
  const nScales = c.mode === 'taps' ? g.outChannels : g.outChannels * nB * taps;
  const scales = Float32Array.from({ length: nScales }, () => (R.next() < 0.05 ? 0 : R.normal() * 2 ** R.int(-8, 2)));
  return { q, scales };
}

function twinGeometry(c, pad) {
  const { g } = c;
  return {
    height: c.height, width: c.width, inChannels: g.inChannels, outChannels: g.outChannels, kh: g.kh, kw: g.kw,
    stride: g.stride, dilation: g.dilation, padding: pad, groups: g.groups,
  };
}

/**
 * Runs `path` on one NHWC image in runtime r, as the forward path does, and returns its
 * accumulator as [pixels][outChannels]; given `epi` ({ scale, shift, lo, hi }), the NHWC output
 * of the kernel with the epilogue fused instead.
 */
function runPath(r, path, c, x, plan, epi) {
  const { g } = c;
  const hw = c.height * c.width;
  const npix = plan.outHeight * plan.outWidth;
  const rows = Math.ceil(npix / path.pixelMultiple) * path.pixelMultiple;
  const runs = path.rowRuns ? rowLayout(g, plan) : undefined;
  const ind = indirection(g, plan, path.pixelMultiple, runs);
  const image = r.heap.alloc(hw * path.imageStride * 4);
  const rowImage = runs ? r.heap.alloc(rowImageFloats(runs, c.height) * 4) : 0;
  const indPtr = r.heap.alloc(ind.byteLength);
  const zero = r.zeros(path.zeroBytes);
  path.allocate(r, hw, rows, 1, 1);
  const s = r.scratch;
  const lane = { mant: s.mant.ptr, scale: s.scale.ptr, acc: s.acc.ptr, rowImage };
  // Data moves only now: allocating may grow memory and detach views.
  const img = r.f32(image, hw * path.imageStride).fill(0);
  for (let p = 0; p < hw; p++) img.set(x.subarray(p * g.inChannels, (p + 1) * g.inChannels), p * path.imageStride);
  r.i32(indPtr, ind.length).set(ind);
  // NaN where the pass must write zeros: a padding column it missed shows in the sums.
  if (runs) r.f32(rowImage, rowImageFloats(runs, c.height)).fill(NaN);
  // One share, as an unsplit forward() runs it: the pass, the per-call weights, the kernel.
  const job = r.job(1);
  path.prepare(job.share(0), r);
  path.pass(job.share(0), r, image, 0, hw, lane, runs);
  let fused;
  if (epi) {
    const n = npix * g.outChannels;
    fused = { dst: r.heap.alloc(n * 4), scale: r.upload(epi.scale), shift: r.upload(epi.shift), lo: epi.lo, hi: epi.hi };
    path.kernel(job.share(0), r, image, indPtr, 0, rows, 0, path.channelTiles, zero, lane, fused);
    const bad = job.finish() !== 0;
    const out = r.f32(fused.dst, n).slice();
    for (const ptr of [image, indPtr, fused.dst, fused.scale, fused.shift]) r.heap.release(ptr);
    if (rowImage) r.heap.release(rowImage);
    return { out, bad };
  }
  path.kernel(job.share(0), r, image, indPtr, 0, rows, 0, path.channelTiles, zero, lane);
  const bad = job.finish() !== 0;
  const a = r.f32(lane.acc, rows * path.acc.stride);
  const out = new Float32Array(npix * g.outChannels);
  for (let p = 0; p < npix; p++) {
    for (let o = 0; o < g.outChannels; o++) {
      const call = Math.floor(o / path.acc.groupChannels);
      out[p * g.outChannels + o] = a[p * path.acc.stride + call * path.acc.groupStride + (o % path.acc.groupChannels)];
    }
  }
  r.heap.release(image);
  r.heap.release(indPtr);
  if (rowImage) r.heap.release(rowImage);
  return { out, bad };
}

/** The expected sums of record `rec` for config c, from the kernel's twin. */
function twinOf(rec, c, x, w, pad) {
  const tg = twinGeometry(c, pad);
  const taps = c.g.kh * c.g.kw;
  if (rec.path === 'igemm') return dsconvIgemmTwin(x, w.q, w.scales, c.mode, c.blockSize, c.mantissaBits, tg);
  if (rec.path === 'dequant' || rec.path === 'depthwise') {
    const xq = bfpDequantTwin(x, c.height * c.width, c.g.inChannels, c.g.groups, rec.path === 'depthwise' ? 1 : c.blockSize, c.mantissaBits);
    return f32ConvTwin(xq, dequantWeightsTwin(w.q, w.scales, c.mode, c.blockSize, c.g.outChannels, c.g.groupChannels, taps), tg);
  }
  return f32ConvTwin(x, w, tg);
}

function firstMismatch(got, want, outChannels) {
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) return `pixel ${Math.floor(i / outChannels)}, output ${i % outChannels}: got ${got[i]}, twin ${want[i]}`;
  }
  return undefined;
}

/**
 * Runs one record over CONFIGS random configurations on runtime r (from `conv`, default drawConv);
 * returns how many, and how many of them the path read as row runs.
 */
function checkRecord(r, rec, index, conv = drawConv) {
  const float = rec.path.startsWith('f32');
  const depthwise = rec.path === 'depthwise' || rec.path === 'f32-dwconv';
  let n = 0, rowRuns = 0;
  for (let k = 0; k < CONFIGS; k++) {
    const R = generator(0x9e3779b1 ^ (index * 7919 + k));
    const bits = rec.path === 'igemm' ? R.int(rec.bits[0], rec.bits[1]) : R.int(2, 8);
    const c = drawConfig(R, depthwise, bits, conv);
    const plan = resolve(c.g, { height: c.height, width: c.width, layout: 'NHWC' });
    const x = drawInput(R, c.height * c.width, c.g.inChannels);
    let w, path;
    const keep = (d) => r.upload(d);
    if (float) {
      w = Float32Array.from({ length: c.g.outChannels * c.g.groupChannels * c.g.kh * c.g.kw }, () => R.normal());
      path = floatPath(rec, c.g, w, keep);
    } else {
      w = drawWeights(R, c);
      path = dsconvPath(rec, c.g, { bits, blockSize: c.blockSize, mantissaBits: c.mantissaBits, blockMode: c.mode }, w.q, w.scales, keep);
    }
    if (path.rowRuns) rowRuns++;
    const { out, bad } = runPath(r, path, c, x, plan);
    assert.is(bad, false, `${rec.kernel}: the BFP pass reported a NaN/Inf in a finite input`);
    const want = twinOf(rec, c, x, w, plan.pad);
    const [oh, ow] = outputSize({ ...twinGeometry(c, plan.pad), batch: 1 });
    assert.is(out.length, oh * ow * c.g.outChannels);
    const bad1 = firstMismatch(out, want, c.g.outChannels);
    if (bad1) assert.unreachable(`${rec.kernel} (${rec.path}) on the ${r.build} build, config ${k} ${JSON.stringify({ ...c, g: undefined })}: ${bad1}`);
    n++;
  }
  return { n, rowRuns };
}

const RECORDS = [...DSCONV_TABLE, ...FLOAT_TABLE];

for (const build of ONLY ?? ['simd', 'relaxed']) {
  test(`every record of the ${build} build matches its scalar twin bit for bit, the float-kernel ones on row runs too`, async () => {
    const { r, reason } = await runtimeFor(build);
    const mine = RECORDS.filter((rec) => rec.builds.includes(build));
    if (!r) {
      // Only the relaxed build can be missing, and only where the engine lacks relaxed SIMD.
      assert.is(build, 'relaxed', reason);
      assert.ok(ONLY === undefined, `the child run could not load the relaxed build: ${reason}`);
      const child = spawnSync(process.execPath, [...RELAXED_FLAGS, fileURLToPath(import.meta.url)], {
        env: { ...process.env, DSCONV_KERNEL_BUILDS: 'relaxed' }, encoding: 'utf8',
      });
      const said = (child.stdout + child.stderr).replace(/\x1b\[[0-9;]*m/g, '');
      assert.is(child.status, 0, `relaxed records in a child Node (${RELAXED_FLAGS.join(' ')}):\n${said}`);
      const line = said.match(/kernel table, relaxed build: .*/);
      assert.ok(line, said);
      console.log(`  ${line[0]} (in a child Node with ${RELAXED_FLAGS.join(' ')}: ${reason.replace(/^dsconv: /, '')})`);
      return;
    }
    assert.is(r.build, build);
    let total = 0;
    for (const rec of mine) total += checkRecord(r, rec, RECORDS.indexOf(rec)).n;
    // The float-kernel records again on row runs (few channels per tap: a row of taps read as one).
    const floatKernel = mine.filter((rec) => rec.path === 'dequant' || rec.path === 'f32-igemm');
    assert.ok(floatKernel.length >= 2, floatKernel.map((rec) => rec.kernel).join(', '));
    for (const rec of floatKernel) {
      const { n, rowRuns } = checkRecord(r, rec, RECORDS.indexOf(rec) + 0x1000, drawRowRunConv);
      assert.is(rowRuns, n, `${rec.path} ${rec.kernel}: every drawn conv reads row runs`);
      total += n;
    }
    console.log(`  kernel table, ${build} build: ${mine.length} records (${mine.map((m) => `${m.path} ${m.kernel}`).join(', ')}), ${total} configurations (${floatKernel.length * CONFIGS} on row runs), bit-exact`);
  });
}

test('depthwise records with the epilogue fused write clamp(sum * scale + shift, lo, hi) of the twin\'s sums, bit for bit', async () => {
  const { r } = await runtimeFor('simd');
  const f = Math.fround;
  let n = 0;
  for (const rec of RECORDS.filter((x) => x.path === 'depthwise' || x.path === 'f32-dwconv')) {
    for (let k = 0; k < 24; k++) {
      const R = generator(0x5f3759df ^ (k * 104729 + rec.path.length));
      const c = drawConfig(R, true, R.int(2, 8));
      // The kernel fuses only where the channels fill the lanes: the output's pixel stride.
      const groups = 4 * R.int(1, 10);
      c.options = { ...c.options, inChannels: groups, outChannels: groups, groups };
      c.g = parseGeometry(c.options);
      const plan = resolve(c.g, { height: c.height, width: c.width, layout: 'NHWC' });
      const x = drawInput(R, c.height * c.width, groups);
      const keep = (d) => r.upload(d);
      let w, path;
      if (rec.path === 'f32-dwconv') {
        w = Float32Array.from({ length: groups * c.g.kh * c.g.kw }, () => R.normal());
        path = floatPath(rec, c.g, w, keep);
      } else {
        w = drawWeights(R, c);
        path = dsconvPath(rec, c.g, { bits: c.bits, blockSize: c.blockSize, mantissaBits: c.mantissaBits, blockMode: c.mode }, w.q, w.scales, keep);
      }
      assert.ok(path.fusesEpilogue, `${rec.path} with ${groups} channels fuses its epilogue`);
      const [lo, hi] = R.pick([[-Infinity, Infinity], [0, Infinity], [0, 6]]);
      const epi = { scale: Float32Array.from({ length: groups }, () => R.normal()), shift: Float32Array.from({ length: groups }, () => R.normal()), lo, hi };
      const { out, bad } = runPath(r, path, c, x, plan, epi);
      assert.is(bad, false);
      const sums = twinOf(rec, c, x, w, plan.pad);
      const want = sums.map((v, i) => {
        const y = f(f(v * epi.scale[i % groups]) + epi.shift[i % groups]);
        const z = y < lo ? lo : y;
        return hi < z ? hi : z;
      });
      const miss = firstMismatch(out, want, groups);
      if (miss) assert.unreachable(`${rec.kernel} (${rec.path}) fused, config ${k} ${JSON.stringify({ ...c, g: undefined })}, lo ${lo} hi ${hi}: ${miss}`);
      n++;
    }
  }
  assert.is(n, 48);
});

for (const build of ONLY ?? ['simd', 'relaxed']) {
  test(`tiled records (integer, dequantized, float) of the ${build} build with the epilogue fused write clamp(sum * scale + shift, lo, hi) of the twin's sums, bit for bit`, async () => {
    const { r } = await runtimeFor(build);
    if (!r) return; // the relaxed build where the engine lacks it: the child Node of the test above runs this one too
    const f = Math.fround;
    let n = 0;
    const tiled = RECORDS.filter((x) => ['igemm', 'dequant', 'f32-igemm'].includes(x.path) && x.builds.includes(build));
    for (const rec of tiled) {
      const float = rec.path === 'f32-igemm';
      for (let k = 0; k < 12; k++) {
        const R = generator(0x2545f491 ^ (k * 7907 + RECORDS.indexOf(rec)));
        let c, plan;
        // Fused where the tiles are the output's channels and no padded row lands past the image.
        do {
          c = drawConfig(R, false, rec.path === 'igemm' ? R.int(rec.bits[0], rec.bits[1]) : R.int(2, 8));
          const groups = c.options.groups;
          c.options = { ...c.options, outChannels: 8 * R.int(1, 3) * groups };
          c.g = parseGeometry(c.options);
          plan = resolve(c.g, { height: c.height, width: c.width, layout: 'NHWC' });
        } while ((plan.outHeight * plan.outWidth) % rec.mr !== 0);
        const x = drawInput(R, c.height * c.width, c.g.inChannels);
        const w = float ? Float32Array.from({ length: c.g.outChannels * c.g.groupChannels * c.g.kh * c.g.kw }, () => R.normal()) : drawWeights(R, c);
        const path = float ? floatPath(rec, c.g, w, (d) => r.upload(d))
          : dsconvPath(rec, c.g, { bits: c.bits, blockSize: c.blockSize, mantissaBits: c.mantissaBits, blockMode: c.mode }, w.q, w.scales, (d) => r.upload(d));
        assert.ok(path.fusesEpilogue, `${rec.kernel} with ${c.g.groupOutputs} outputs per group fuses its epilogue`);
        const C = c.g.outChannels;
        const [lo, hi] = R.pick([[-Infinity, Infinity], [0, Infinity], [0, 6]]);
        const epi = { scale: Float32Array.from({ length: C }, () => R.normal()), shift: Float32Array.from({ length: C }, () => R.normal()), lo, hi };
        const { out, bad } = runPath(r, path, c, x, plan, epi);
        assert.is(bad, false);
        const want = twinOf(rec, c, x, w, plan.pad).map((v, i) => {
          const y = f(f(v * epi.scale[i % C]) + epi.shift[i % C]);
          const z = y < lo ? lo : y;
          return hi < z ? hi : z;
        });
        const miss = firstMismatch(out, want, C);
        if (miss) assert.unreachable(`${rec.kernel} fused on the ${build} build, config ${k} ${JSON.stringify({ ...c, g: undefined })}, lo ${lo} hi ${hi}: ${miss}`);
        n++;
      }
    }
    assert.ok(n >= 12 * tiled.length && tiled.length >= 4, `${n} fused configurations of ${tiled.length} records`);
  });
}

test('the table: names follow the grammar, every export it names is in each build it lists, selection picks its records', async () => {
  const names = (rec) => [rec.kernel, rec.weights, typeof rec.bfp === 'object' ? rec.bfp.pass : rec.bfp].filter(Boolean);
  for (const rec of RECORDS) {
    for (const name of names(rec)) assert.match(name, /^(dsconv|f32|bfp)_[a-z0-9_]+$/, `${name} follows the naming grammar`);
    if (rec.path === 'igemm') {
      assert.match(rec.kernel, new RegExp(`^dsconv_igemm_${rec.mr}x${rec.nr}c${rec.kc}_(dot16|rdot)_q${rec.bits[1]}$`));
      assert.ok(rec.bits[0] >= 2 && rec.bits[0] <= rec.bits[1] && rec.bits[1] <= 8);
    }
  }
  for (const build of ['simd', 'relaxed']) {
    const { r } = await runtimeFor(build);
    if (!r) continue; // the child run above covers the relaxed exports
    for (const rec of RECORDS.filter((x) => x.builds.includes(build))) {
      for (const name of names(rec)) assert.type(r.k[name], 'function', `${name} in the ${build} build`);
    }
  }
  // Selection: every bits and block width lands on a record of the build, the preferred one first.
  for (const build of ['simd', 'relaxed']) {
    for (let bits = 2; bits <= 8; bits++) {
      for (const blockSize of [1, 3, 4, 5, 32]) {
        const g = parseGeometry({ inChannels: 64, outChannels: 8, kernelSize: 3 });
        const paddedLen = Math.ceil(Math.min(blockSize, 64) / 4) * 4;
        const rec = selectDsconv(build, g, bits, paddedLen);
        assert.ok(DSCONV_TABLE.includes(rec) && rec.builds.includes(build));
        const want = paddedLen <= 4 ? 'dequant' : build === 'relaxed' && bits <= 7 ? `rdot_q${bits <= 4 ? 4 : 7}` : `dot16_q${bits <= 4 ? 4 : 8}`;
        assert.is(rec.path === 'dequant' ? 'dequant' : rec.packing, want, `${build}, ${bits} bits, B = ${blockSize}`);
      }
    }
    const dw = selectDsconv(build, parseGeometry({ inChannels: 8, outChannels: 8, kernelSize: 3, groups: 8 }), 4, 4);
    assert.is(dw.path, 'depthwise');
  }
});

test.run();
