// Where a conv's time goes through the TF.js plug-in, on tfjs-backend-wasm, batch 1, NHWC: each
// step of the plug-in's kernelFunc (reading input and bias, computeConv2DInfo, the output tensor,
// forward(), the rest of the glue), forward() split into its wasm phases (profile()) and its copies
// (TypedArray set and slice), against tfjs's own kernel and DSConv2d.forward called directly on
// the same data. tfjs, plug-in and direct calls take turns; medians of the rounds.
// With --model, the same per kind of conv (dw, stem: <= 4 input channels, 1x1, kxk) over whole
// images of nsfwjs's MobileNetV2 (224x224), summed per image.
// Usage: npx tsc -p tsconfig.json && node tools/plugin-breakdown.mjs [--rounds N] [--threads N] [--layers dw,stem,1x1] [--model]
import { parseArgs } from 'node:util';
import { loadTf } from '../dist/cli/model.js';
import { init, getInfo, profile, DSConv2d } from 'dsconv';
import { EXPORTS } from '../dist/core/exports.js';
import { useDSConv } from 'dsconv/tfjs';
import { fileIO } from 'dsconv/files';
import { toOIHW } from '../dist/tfjs/adapters.js';

const { values: opt } = parseArgs({ options: {
  rounds: { type: 'string', default: '15' }, threads: { type: 'string' }, layers: { type: 'string', default: 'dw,stem,1x1' }, model: { type: 'boolean' },
} });
await init(opt.threads ? { threads: Number(opt.threads) } : {});
const tf = await loadTf();
const ROUNDS = Number(opt.rounds);
const kinds = opt.layers.split(',');

// [kind, name, input NHWC, filter HWIO (depthwise: [kh][kw][c][1]), stride]
const CASES = [
  ['dw', 'MobileNetV2 block_1 dw 112x112x96 s2', [1, 112, 112, 96], [3, 3, 96, 1], 2],
  ['dw', 'MobileNetV2 block_2 dw 56x56x144 s1', [1, 56, 56, 144], [3, 3, 144, 1], 1],
  ['dw', 'MobileNetV2 block_11 dw 14x14x576 s1', [1, 14, 14, 576], [3, 3, 576, 1], 1],
  ['stem', 'stem 224x224 3->64 7x7 s2', [1, 224, 224, 3], [7, 7, 3, 64], 2],
  ['stem', 'MobileNetV2 Conv1 224x224 3->32 3x3 s2', [1, 224, 224, 3], [3, 3, 3, 32], 2],
  ['stem', 'RDN first conv 128x128 3->64 3x3', [1, 128, 128, 3], [3, 3, 3, 64], 1],
  ['1x1', 'resnet50 56x56 64->256 1x1', [1, 56, 56, 64], [1, 1, 64, 256], 1],
  ['1x1', 'MobileNetV2 block_12 expand 14x14 96->576 1x1', [1, 14, 14, 96], [1, 1, 96, 576], 1],
].filter((c) => kinds.includes(c[0]));

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const KERNELS = ['Conv2D', 'FusedConv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2D'];

/** Re-registers the wasm backend's conv kernels with their kernelFunc timed into `sink.ms`. */
function timeKernels(sink) {
  const saved = [];
  for (const name of KERNELS) {
    const k = tf.getKernel(name, 'wasm');
    if (!k) continue;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...k, kernelFunc: (a) => { const t = performance.now(); try { return k.kernelFunc(a); } finally { sink.ms += performance.now() - t; } } });
    saved.push(k);
  }
  return () => { for (const k of saved) { tf.unregisterKernel(k.kernelName, 'wasm'); tf.registerKernel(k); } };
}

/** Wraps obj[name] with a timer adding into accOf()[key] while `on.value`; returns the undo. */
function timeMethod(obj, name, accOf, key, on) {
  const own = Object.prototype.hasOwnProperty.call(obj, name);
  const f = obj[name];
  obj[name] = function (...a) {
    if (!on.value) return f.apply(this, a);
    const t = performance.now();
    try { return f.apply(this, a); } finally { const acc = accOf(); acc[key] = (acc[key] ?? 0) + performance.now() - t; }
  };
  return () => { if (own) obj[name] = f; else delete obj[name]; };
}

const PROFILER = 'profiler setup (absent unprofiled)';
const ROLE_NAMES = { bfp: 'BFP pass', weights: 'weights', conv: 'kernel', epilogue: 'epilogue', layout: 'layout', check: 'NaN scan' };
const backend = tf.backend();
const convLayer = Object.getPrototypeOf(DSConv2d.prototype);
const kindOf = (a, name) => (name.includes('Depthwise') ? 'dw' : a.inputs.filter.shape[2] <= 4 ? 'stem' : a.inputs.filter.shape[0] === 1 ? '1x1' : 'kxk');

/**
 * Runs fn with each step of every conv kernelFunc timed (forward() profiled, so unsplit) and
 * returns per kind the summed steps: the whole kernelFunc, the backend calls and
 * computeConv2DInfo it makes, forward()'s wasm phases and copies, and what is left (glue).
 */
function steps(fn) {
  const rows = {};
  let acc = null;
  const on = { value: false }, inForward = { value: false };
  const undos = [
    timeMethod(backend, 'typedArrayFromHeap', () => acc, 'read input/bias (typedArrayFromHeap)', on),
    timeMethod(backend, 'makeOutput', () => acc, 'make output tensor', on),
    timeMethod(tf.backend_util, 'computeConv2DInfo', () => acc, 'computeConv2DInfo', on),
    timeMethod(Float32Array.prototype, 'set', () => acc, 'copies', inForward),
    timeMethod(Float32Array.prototype, 'slice', () => acc, 'copies', inForward),
  ];
  const fwd = convLayer.forward;
  convLayer.forward = function (...a) {
    const t = performance.now();
    inForward.value = true; on.value = false;
    let result, inner = 0;
    try {
      // forward() timed inside profile(): wrapping and unwrapping the exports is the tool's own cost.
      const prof = profile(() => { const t0 = performance.now(); try { result = fwd.apply(this, a); } finally { inner = performance.now() - t0; } });
      for (const [exp, ms] of Object.entries(prof.ms)) {
        const key = `forward: ${ROLE_NAMES[EXPORTS[exp].role] ?? EXPORTS[exp].role}`;
        acc[key] = (acc[key] ?? 0) + ms;
        acc.wasm = (acc.wasm ?? 0) + ms;
      }
      return result;
    } finally {
      inForward.value = false; on.value = true;
      acc.forward = (acc.forward ?? 0) + inner;
      acc[PROFILER] = (acc[PROFILER] ?? 0) + performance.now() - t - inner;
    }
  };
  const saved = [];
  for (const name of KERNELS) {
    const k = tf.getKernel(name, 'wasm');
    if (!k) continue;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...k, kernelFunc: (a) => {
      acc = {};
      on.value = true;
      const t = performance.now();
      try { return k.kernelFunc(a); } finally {
        const total = performance.now() - t;
        on.value = false;
        const row = (rows[kindOf(a, name)] ??= { calls: 0, total: 0 });
        row.calls++;
        row.total += total;
        let outside = 0;
        for (const [key, v] of Object.entries(acc)) {
          if (key === 'forward' || key === 'wasm' || key === 'copies') continue;
          row[key] = (row[key] ?? 0) + v;
          if (!key.startsWith('forward')) outside += v;
        }
        row['forward: copies in/out'] = (row['forward: copies in/out'] ?? 0) + (acc.copies ?? 0);
        row['forward: js'] = (row['forward: js'] ?? 0) + (acc.forward ?? 0) - (acc.wasm ?? 0) - (acc.copies ?? 0);
        row['glue (layer lookup, options, rest)'] = (row['glue (layer lookup, options, rest)'] ?? 0) + total - (acc.forward ?? 0) - outside;
      }
    } });
    saved.push(k);
  }
  try { fn(); } finally {
    for (const k of saved) { tf.unregisterKernel(k.kernelName, 'wasm'); tf.registerKernel(k); }
    convLayer.forward = fwd;
    for (const u of undos.reverse()) u();
  }
  return rows;
}

/** Prints the medians over rounds of each step of kind `kind`, in ms and % of the kernelFunc. */
function printSteps(rounds, kind) {
  const rs = rounds.map((r) => r[kind]).filter(Boolean);
  const keys = Object.keys(rs[0]).filter((k) => k !== 'calls');
  const tot = median(rs.map((r) => r.total));
  for (const k of keys) {
    const m = median(rs.map((r) => r[k] ?? 0));
    console.log(`| ${k} | ${m.toFixed(3)} | ${(100 * m / tot).toFixed(1)}% |`);
  }
}

const SETTINGS = { bits: 4, depthwiseBlocks: 'taps' };
const WARM = 5; // calls before timing: V8 tiers wasm functions up after their first runs

if (opt.model) {
  const model = await tf.loadLayersModel(fileIO('node_modules/nsfwjs/dist/models/mobilenet_v2/model.min.js'));
  const x = tf.randomUniform([1, 224, 224, 3], 0, 1, 'float32', 1);
  const call = () => { const y = model.predict(x); y.dataSync(); y.dispose(); };
  /** Per kind, the ms its kernelFuncs took in one call of fn. */
  const perKind = (fn) => {
    const ms = {};
    const saved = [];
    for (const name of KERNELS) {
      const k = tf.getKernel(name, 'wasm');
      tf.unregisterKernel(name, 'wasm');
      tf.registerKernel({ ...k, kernelFunc: (a) => { const t = performance.now(); try { return k.kernelFunc(a); } finally { const kd = kindOf(a, name); ms[kd] = (ms[kd] ?? 0) + performance.now() - t; } } });
      saved.push(k);
    }
    try { fn(); } finally { for (const k of saved) { tf.unregisterKernel(k.kernelName, 'wasm'); tf.registerKernel(k); } }
    return ms;
  };
  const p = useDSConv(tf, { ...SETTINGS, model });
  for (let i = 0; i < WARM; i++) call();
  p.restore();
  for (let i = 0; i < WARM; i++) call();
  const tfjs = [], viaPlugin = [], rounds = [];
  let wall = [[], []];
  for (let r = 0; r < ROUNDS; r++) {
    let t = performance.now();
    tfjs.push(perKind(call));
    wall[0].push(performance.now() - t);
    const p = useDSConv(tf, { ...SETTINGS, model });
    call();
    t = performance.now();
    viaPlugin.push(perKind(call));
    wall[1].push(performance.now() - t);
    rounds.push(steps(call));
    p.restore();
  }
  console.log(`nsfwjs MobileNetV2 224x224, ms per image (${getInfo().threads} thread(s); steps profiled on 1): whole image tfjs ${median(wall[0]).toFixed(1)}, plug-in ${median(wall[1]).toFixed(1)}`);
  console.log('| convs | calls | tfjs-wasm ms | plug-in ms | plug-in speed vs tfjs |\n|---|---:|---:|---:|---:|');
  for (const kind of Object.keys(rounds[0])) {
    const a = median(tfjs.map((m) => m[kind])), b = median(viaPlugin.map((m) => m[kind]));
    console.log(`| ${kind} | ${rounds[0][kind].calls} | ${a.toFixed(2)} | ${b.toFixed(2)} | ${(a / b).toFixed(2)}x |`);
  }
  for (const kind of Object.keys(rounds[0])) {
    console.log(`\n${kind}, summed over an image:\n| step | ms | % |\n|---|---:|---:|`);
    printSteps(rounds, kind);
  }
  process.exit(0);
}

for (const [kind, name, xs, fs, stride] of CASES) {
  const depthwise = kind === 'dw';
  const x = tf.randomUniform(xs, -1, 1, 'float32', 1);
  const f = tf.randomNormal(fs, 0, 0.1, 'float32', 2);
  const run = () => (depthwise ? tf.depthwiseConv2d(x, f, stride, 'same') : tf.conv2d(x, f, stride, 'same'));
  const call = () => run().dispose();
  // The layer the plug-in builds, made here too, to call directly on a copy of the input.
  const [kh, kw, cin, last] = fs;
  const info = tf.backend_util.computeConv2DInfo(xs, fs, stride, 1, 'same', undefined, depthwise);
  const pi = info.padInfo;
  const layer = DSConv2d.fromFloat(toOIHW(f.dataSync(), kh, kw, cin, last, depthwise), {
    inChannels: cin, outChannels: depthwise ? cin : last, kernelSize: [kh, kw], stride, groups: depthwise ? cin : 1,
    padding: [pi.top, pi.left, pi.bottom, pi.right], bits: 4, depthwiseBlocks: depthwise ? 'taps' : 'channels',
  });
  const input = x.dataSync().slice();
  const shape = { batch: xs[0], height: xs[1], width: xs[2], layout: 'NHWC' };
  const out = new Float32Array(info.outHeight * info.outWidth * info.outChannels);
  const p = useDSConv(tf, SETTINGS);
  for (let i = 0; i < WARM; i++) { call(); layer.forward(input, shape, out); }
  p.restore();
  for (let i = 0; i < WARM; i++) call();

  const tfjs = [], viaPlugin = [], direct = [], rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    let s = { ms: 0 };
    let undo = timeKernels(s); call(); undo(); tfjs.push(s.ms);
    const p = useDSConv(tf, SETTINGS);
    for (let i = 0; i < WARM; i++) call(); // quantizes and builds the layer, then its first calls on a new guest: not timed
    s = { ms: 0 }; undo = timeKernels(s); call(); undo(); viaPlugin.push(s.ms);
    rounds.push(steps(call));
    p.restore();
    const t = performance.now(); layer.forward(input, shape, out); direct.push(performance.now() - t);
  }
  layer.dispose();
  const mt = median(tfjs), mp = median(viaPlugin), md = median(direct);
  console.log(`\n${name}: ${layer.kernel.kernel}; tfjs-wasm kernel ${mt.toFixed(3)} ms, plug-in kernelFunc ${mp.toFixed(3)} ms `
    + `(${(mt / mp).toFixed(2)}x of tfjs's speed), DSConv2d.forward direct ${md.toFixed(3)} ms (${getInfo().threads} thread(s); steps profiled on 1)`);
  console.log('| step | ms | % |\n|---|---:|---:|');
  printSteps(rounds, kind);
  x.dispose(); f.dispose();
}
