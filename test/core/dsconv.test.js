// DSConv2d (wasm) against dsconvReference (float64, docs/ARITHMETIC.md "The convolution"):
//   1. a seeded randomized sweep of >= 2000 layer configurations, outputs within 1e-5 x the
//      largest |output| of the call before relu/relu6, and the VQK/KDS equal to quantizeWeights;
//   2. configurations where no float rounding can happen (power-of-two scales, BFP-exact inputs),
//      which must match bit for bit;
//   3. forward leaves its input alone, repeats exactly, and does not depend on what other layers
//      ran before it.
// Every config is drawn from its own generator seeded by (DSCONV_SEED, index), so a failure
// report's index reproduces it: DSCONV_ONLY=<index> runs just that sweep config.
// DSCONV_STATS=1 prints, once, how many sweep configs hit each feature.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { init, DSConv2d } from 'dsconv';
import { dsconvReference, bfpReference, nchwToNhwc } from 'dsconv/reference';
import { quantizeWeights } from 'dsconv';
import { rng } from '../util.js';

await init();

const SEED = Number(process.env.DSCONV_SEED ?? 1901019282);
const ONLY = process.env.DSCONV_ONLY === undefined ? undefined : Number(process.env.DSCONV_ONLY);
const SWEEP = 2200;
const REL_TOL = 1e-5;
const TINY = 1e-300; // max(|output|, TINY): an all-zero output passes only with exact zeros
const COST_LIMIT = 400000; // multiply-adds of the reference per config: keeps the file fast

// ---------------------------------------------------------------------------------------------
// Small helpers

function gen(seed) {
  const R = rng(seed);
  const int = (lo, hi) => lo + Math.floor(R.uniform() * (hi - lo + 1));
  const pick = (a) => a[Math.floor(R.uniform() * a.length)];
  const chance = (p) => R.uniform() < p;
  return { ...R, int, pick, chance };
}

function configSeed(base, i) {
  // Distinct, well-mixed seeds per index (a few rounds of an integer hash).
  let h = (base ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

const pair = (v) => (typeof v === 'number' ? [v, v] : v);

/** TensorFlow's 'same' padding along one axis: [before, after]. */
function samePad(size, k, s, d) {
  const total = Math.max((Math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** Explicit [top, left, bottom, right] for any padding form. */
function explicitPadding(padding, H, W, kh, kw, stride, dilation) {
  const [sy, sx] = pair(stride);
  const [dy, dx] = pair(dilation);
  if (padding === undefined || padding === 'valid') return [0, 0, 0, 0];
  if (padding === 'same') {
    const [t, b] = samePad(H, kh, sy, dy);
    const [l, r] = samePad(W, kw, sx, dx);
    return [t, l, b, r];
  }
  if (typeof padding === 'number') return [padding, padding, padding, padding];
  if (padding.length === 2) return [padding[0], padding[1], padding[0], padding[1]];
  return padding.slice();
}

function outSize(H, W, kh, kw, stride, dilation, pad) {
  const [sy, sx] = pair(stride);
  const [dy, dx] = pair(dilation);
  const oh = Math.floor((H + pad[0] + pad[2] - dy * (kh - 1) - 1) / sy) + 1;
  const ow = Math.floor((W + pad[1] + pad[3] - dx * (kw - 1) - 1) / sx) + 1;
  return [oh, ow];
}

/** Index into an output in `layout` of element (n, o, y, x). */
function outIndex(layout, N, O, oh, ow, n, o, y, x) {
  return layout === 'NHWC' ? ((n * oh + y) * ow + x) * O + o : ((n * O + o) * oh + y) * ow + x;
}

function maxAbs(a) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function sameBits(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/**
 * The full config as JSON: options (bias/gamma/delta as their float32 values), the forward
 * shape, and how weights and input were drawn (their values follow from the seed).
 */
function describeConfig(c) {
  const o = { ...c.options };
  for (const k of ['bias', 'gamma', 'delta']) if (o[k]) o[k] = Array.from(o[k]);
  return JSON.stringify({ options: o, shape: c.shape, weightDist: c.weightDist, inputDist: c.inputDist });
}

// ---------------------------------------------------------------------------------------------
// Random configurations

const BLOCK_SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 32, 64];

function drawOptions(g) {
  const kind = g.pick(['dense', 'dense', 'dense', 'grouped', 'grouped', 'depthwise', 'depthwise', 'multiplier']);
  let inChannels;
  let outChannels;
  let groups;
  if (kind === 'dense') {
    groups = 1;
    inChannels = g.pick([g.int(1, 4), g.int(1, 16), g.int(1, 40), g.int(1, 80)]);
    outChannels = g.pick([g.int(1, 4), g.int(1, 12), g.int(1, 40)]);
  } else if (kind === 'grouped') {
    groups = g.int(2, 8);
    const cg = g.pick([g.int(1, 4), g.int(1, Math.floor(80 / groups))]);
    const og = g.int(1, Math.floor(40 / groups));
    inChannels = groups * cg;
    outChannels = groups * og;
  } else if (kind === 'depthwise') {
    inChannels = outChannels = groups = g.pick([g.int(1, 9), g.int(1, 40)]);
  } else {
    inChannels = groups = g.int(1, 20);
    outChannels = inChannels * g.pick([2, 2, 3]);
  }
  const cg = inChannels / groups;
  const square = g.chance(0.5);
  const kh = g.int(1, 5);
  const kw = square ? kh : g.int(1, 5);
  const one = (lo, hi, bias) => g.pick([...bias, g.int(lo, hi)]);
  const stride = g.chance(0.5) ? one(1, 3, [1]) : [one(1, 3, [1]), one(1, 3, [1])];
  const dilation = g.chance(0.5) ? one(1, 3, [1, 1]) : [one(1, 3, [1, 1]), one(1, 3, [1, 1])];
  const padding = g.pick([
    'same', 'valid', undefined, g.int(0, 3), [g.int(0, 3), g.int(0, 3)],
    [g.int(0, 3), g.int(0, 3), g.int(0, 3), g.int(0, 3)],
  ]);
  const options = { inChannels, outChannels, kernelSize: square && g.chance(0.5) ? kh : [kh, kw] };
  if (!(stride === 1 && g.chance(0.3))) options.stride = stride;
  if (!(dilation === 1 && g.chance(0.3))) options.dilation = dilation;
  if (padding !== undefined) options.padding = padding;
  if (groups !== 1 || g.chance(0.5)) options.groups = groups;
  if (g.chance(0.9)) options.bits = g.int(2, 8);
  if (g.chance(0.9)) options.blockSize = g.pick([...BLOCK_SIZES, cg + g.int(1, 20)]);
  if (g.chance(0.9)) options.mantissaBits = g.int(2, 8);
  if (cg === 1 && g.chance(0.5)) options.depthwiseBlocks = 'taps';
  else if (g.chance(0.2)) options.depthwiseBlocks = 'channels';
  const act = g.pick(['none', 'relu', 'relu6', undefined]);
  if (act !== undefined) options.activation = act;
  const vec = (scale, offset) => {
    const v = new Float32Array(outChannels);
    for (let i = 0; i < v.length; i++) v[i] = offset + scale * g.normal();
    return v;
  };
  if (g.chance(0.5)) options.bias = vec(g.pick([0.1, 1, 3]), 0);
  if (g.chance(0.4)) options.gamma = vec(g.pick([0.5, 1]), g.pick([0, 1]));
  if (g.chance(0.4)) options.delta = vec(g.pick([0.1, 1]), 0);
  return { kind, options };
}

function drawShape(g) {
  const shape = { height: g.pick([g.int(1, 4), g.int(1, 12)]), width: g.pick([g.int(1, 4), g.int(1, 12)]) };
  if (g.chance(0.8)) shape.batch = g.int(1, 3);
  if (g.chance(0.85)) shape.layout = g.pick(['NCHW', 'NHWC']);
  if (g.chance(0.7)) shape.outputLayout = g.pick(['NCHW', 'NHWC']);
  return shape;
}

/** Float OIHW weights from a few distributions (including zero blocks). */
function drawWeights(g, dist, count, O) {
  const w = new Float32Array(count);
  const perO = count / O;
  for (let o = 0; o < O; o++) {
    const s = dist === 'wide' ? 2 ** g.int(-12, 12) : 1;
    const zeroRow = dist === 'sparse' && g.chance(0.3);
    for (let i = 0; i < perO; i++) {
      let v = zeroRow ? 0 : s * g.normal();
      if (dist === 'sparse' && g.chance(0.4)) v = 0;
      if (dist === 'ties') v = g.int(-8, 8) / 2; // many exact ties and +a/-a maxima
      w[o * perO + i] = v;
    }
  }
  if (dist === 'zero') w.fill(0);
  return w;
}

/** Float NCHW input from a few distributions. */
function drawInput(g, dist, N, C, H, W) {
  const x = new Float32Array(N * C * H * W);
  const all = dist === 'scaled' ? 2 ** g.pick([g.int(-60, -20), g.int(20, 60)]) : 1; // far from 1, both ways
  const chanScale = new Float64Array(C).map(() => (dist === 'wide' ? 2 ** g.int(-14, 14) : all));
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let p = 0; p < H * W; p++) {
        let v = g.normal() * chanScale[c];
        if (dist === 'relu') v = Math.max(0, v);
        else if (dist === 'int') v = g.int(-20, 20);
        else if (dist === 'sparse' && g.chance(0.6)) v = 0;
        x[(n * C + c) * H * W + p] = v;
      }
    }
  }
  if (dist === 'zero') x.fill(0);
  return x;
}

/** Draws one valid, small configuration (re-drawing shapes with an empty output or too much work). */
function drawConfig(seed) {
  const g = gen(seed);
  for (let attempt = 0; ; attempt++) {
    if (attempt > 1000) throw new Error(`config generator stuck (seed ${seed})`);
    const { kind, options } = drawOptions(g);
    const shape = drawShape(g);
    const [kh, kw] = pair(options.kernelSize);
    const pad = explicitPadding(options.padding, shape.height, shape.width, kh, kw, options.stride ?? 1, options.dilation ?? 1);
    const [oh, ow] = outSize(shape.height, shape.width, kh, kw, options.stride ?? 1, options.dilation ?? 1, pad);
    if (oh < 1 || ow < 1) continue; // empty output: re-draw
    const N = shape.batch ?? 1;
    const cg = options.inChannels / (options.groups ?? 1);
    const cost = N * options.outChannels * oh * ow * kh * kw * cg + N * options.inChannels * shape.height * shape.width;
    if (cost > COST_LIMIT) continue;
    const weightDist = g.pick(['gauss', 'gauss', 'gauss', 'wide', 'sparse', 'ties', ...(g.chance(0.05) ? ['zero'] : [])]);
    const inputDist = g.pick(['gauss', 'gauss', 'gauss', 'relu', 'wide', 'sparse', 'int', 'scaled', ...(g.chance(0.05) ? ['zero'] : [])]);
    const weights = drawWeights(g, weightDist, options.outChannels * cg * kh * kw, options.outChannels);
    const x = drawInput(g, inputDist, N, options.inChannels, shape.height, shape.width);
    return { kind, options, shape, weights, x, pad, oh, ow, weightDist, inputDist };
  }
}

/** Reference geometry for a config. */
function geometryOf(options, shape, pad) {
  const [kh, kw] = pair(options.kernelSize);
  return {
    batch: shape.batch ?? 1, inChannels: options.inChannels, height: shape.height, width: shape.width,
    outChannels: options.outChannels, kh, kw, stride: pair(options.stride ?? 1), padding: pad,
    dilation: pair(options.dilation ?? 1), groups: options.groups ?? 1,
  };
}

/** Input in the config's layout (the layer's input) from the NCHW tensor. */
function layerInput(c) {
  const { shape, x, options } = c;
  return (shape.layout ?? 'NCHW') === 'NHWC' ? nchwToNhwc(x, shape.batch ?? 1, options.inChannels, shape.height * shape.width) : x.slice();
}

/**
 * Compares a layer's output (in `outputLayout`) with a float64 NCHW reference:
 * |got - ref| <= REL_TOL * max(scale, TINY), or bit-exact after fround when `exact`.
 */
function compareOutput(got, ref, N, O, oh, ow, layout, scale, exact, label) {
  assert.is(got.length, N * O * oh * ow, `${label}: output length`);
  const tol = REL_TOL * Math.max(scale, TINY);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let y = 0; y < oh; y++) {
        for (let x = 0; x < ow; x++) {
          const want = ref[((n * O + o) * oh + y) * ow + x];
          const v = got[outIndex(layout, N, O, oh, ow, n, o, y, x)];
          const ok = exact ? Object.is(v, Math.fround(want)) : Math.abs(v - want) <= tol;
          if (!ok) {
            assert.unreachable(`${label}\n  output (n=${n}, o=${o}, y=${y}, x=${x}) [${layout}]: expected ${want}` +
              `${exact ? ` (float32 ${Math.fround(want)})` : ''}, got ${v}; ` +
              `${exact ? 'exact comparison' : `|diff| ${Math.abs(v - want)} > tol ${tol} (1e-5 x max|output| ${scale})`}`);
          }
        }
      }
    }
  }
}

function compareWeights(layer, expect, label) {
  const w = layer.weights;
  assert.is(w.nBlocks, expect.nBlocks, `${label}: weights.nBlocks`);
  assert.is(w.q.length, expect.q.length, `${label}: weights.q length`);
  assert.is(w.scales.length, expect.scales.length, `${label}: weights.scales length`);
  for (let i = 0; i < expect.q.length; i++) {
    if (w.q[i] !== expect.q[i]) assert.unreachable(`${label}: weights.q[${i}] = ${w.q[i]}, quantizeWeights gives ${expect.q[i]}`);
  }
  for (let i = 0; i < expect.scales.length; i++) {
    if (!Object.is(w.scales[i], expect.scales[i])) {
      assert.unreachable(`${label}: weights.scales[${i}] = ${w.scales[i]}, quantizeWeights gives ${expect.scales[i]}`);
    }
  }
  return w;
}

/** Runs one sweep config; throws with the full config on any mismatch. */
function runConfig(c, label, repeat) {
  const { options, shape, weights, pad, oh, ow } = c;
  const N = shape.batch ?? 1;
  const O = options.outChannels;
  const [kh, kw] = pair(options.kernelSize);
  const cg = options.inChannels / (options.groups ?? 1);
  const bits = options.bits ?? 4;
  const B = options.blockSize ?? 32;
  const m = options.mantissaBits ?? 8;
  const mode = options.depthwiseBlocks ?? 'channels';
  const outLayout = shape.outputLayout ?? shape.layout ?? 'NCHW';

  const layer = DSConv2d.fromFloat(weights, options);
  try {
    assert.equal(layer.outputSize(shape.height, shape.width), [oh, ow], `${label}: outputSize`);
    const expectW = quantizeWeights(weights, { outChannels: O, groupChannels: cg, kh, kw }, bits, B, mode);
    const qw = compareWeights(layer, expectW, label);

    const input = layerInput(c);
    const copy = input.slice();
    const got = layer.forward(input, shape);
    if (!sameBits(input, copy)) assert.unreachable(`${label}: forward modified its input`);

    const geom = geometryOf(options, shape, pad);
    const ep = { bias: options.bias, gamma: options.gamma, delta: options.delta, activation: options.activation ?? 'none' };
    const ref = dsconvReference(c.x, qw, mode, geom, B, m, ep);
    // The tolerance scales with the largest |output| before the activation: relu/relu6 can only
    // shrink outputs, and the kernel's rounding error is relative to the pre-activation values.
    const pre = ep.activation === 'none' ? ref : dsconvReference(c.x, qw, mode, geom, B, m, { ...ep, activation: 'none' });
    compareOutput(got, ref, N, O, oh, ow, outLayout, maxAbs(pre), false, label);

    if (repeat) {
      const again = layer.forward(input, shape);
      if (!sameBits(again, got)) assert.unreachable(`${label}: a second forward gave different results`);
    }
    return got;
  } finally {
    layer.dispose();
  }
}

test(`sweep: DSConv2d == dsconvReference over ${SWEEP} random configurations (seed ${SEED})`, () => {
  let ran = 0;
  const stats = { depthwise: 0, multiplier: 0, grouped: 0, dense: 0, taps: 0, nhwcIn: 0, nhwcOut: 0, q4: 0, q8: 0, same: 0, bigB: 0, multiBlock: 0, shortLast: 0, batch: 0, strided: 0, dilated: 0 };
  for (let i = 0; i < SWEEP; i++) {
    if (ONLY !== undefined && i !== ONLY) continue;
    const seed = configSeed(SEED, i);
    const c = drawConfig(seed);
    const label = `sweep config #${i} (DSCONV_SEED=${SEED}, config seed ${seed}; rerun alone with DSCONV_ONLY=${i}):\n  ${describeConfig(c)}`;
    runConfig(c, label, i % 7 === 0);
    ran++;
    stats[c.kind]++;
    if (c.options.depthwiseBlocks === 'taps') stats.taps++;
    if (c.shape.layout === 'NHWC') stats.nhwcIn++;
    if ((c.shape.outputLayout ?? c.shape.layout) === 'NHWC') stats.nhwcOut++;
    if ((c.options.bits ?? 4) <= 4) stats.q4++; else stats.q8++;
    if (c.options.padding === 'same') stats.same++;
    const cg = c.options.inChannels / (c.options.groups ?? 1);
    const B = c.options.blockSize ?? 32;
    if (B > cg) stats.bigB++;
    if (cg > B) stats.multiBlock++;
    if (cg > B && cg % B !== 0) stats.shortLast++;
    if ((c.shape.batch ?? 1) > 1) stats.batch++;
    if (pair(c.options.stride ?? 1).some((v) => v > 1)) stats.strided++;
    if (pair(c.options.dilation ?? 1).some((v) => v > 1)) stats.dilated++;
  }
  if (process.env.DSCONV_STATS) console.log(ran, stats);
  if (ONLY !== undefined) return;
  assert.ok(ran >= 2000, `only ${ran} configurations ran`);
  // The generator must actually reach every corner it claims to.
  for (const [k, v] of Object.entries(stats)) assert.ok(v >= 50, `only ${v} configs of kind ${k}: ${JSON.stringify(stats)}`);
});

// ---------------------------------------------------------------------------------------------
// Exact integer sums: power-of-two scales, BFP-exact inputs, no bias. Every term
// ξ · 2^(E-m+2) · Σ q·M is a dyadic number, and as long as Σ|term| stays below 2^24 of the
// smallest unit present, every float32 partial sum is exact in any order.

function drawExact(g, variant) {
  let inChannels;
  let outChannels;
  let groups;
  let mode = 'channels';
  let blockSize = g.pick(BLOCK_SIZES);
  let kh = g.int(1, 3);
  let kw = g.int(1, 3);
  const bits = variant.bits ?? g.int(2, 8);
  const m = variant.kind === 'long' ? g.int(6, 8) : g.int(2, 8);
  switch (variant.kind) {
    case 'dense':
      groups = 1; inChannels = g.int(1, 40); outChannels = g.int(1, 20);
      break;
    case 'grouped':
      groups = g.int(2, 5); inChannels = groups * g.int(1, 10); outChannels = groups * g.int(1, 6);
      break;
    case 'depthwise':
      inChannels = outChannels = groups = g.int(1, 24); mode = variant.mode;
      break;
    case 'multiplier':
      inChannels = groups = g.int(1, 12); outChannels = 2 * inChannels; mode = variant.mode;
      break;
    case 'long':
      groups = g.pick([1, 1, 2]); inChannels = 200 * groups; outChannels = groups * g.int(1, 10);
      blockSize = variant.blockSize; kh = g.int(1, 2); kw = g.int(1, 2);
      break;
    default:
      throw new Error(variant.kind);
  }
  const cg = inChannels / groups;
  const H = g.int(1, 7);
  const W = g.int(1, 7);
  const N = g.int(1, 2);
  // Exponent spreads: narrow for the long blocks (their integer sums already use ~20 bits).
  const long = variant.kind === 'long';
  const kLo = long ? 0 : g.pick([0, -1, -3]);
  const kHi = long ? g.int(0, 1) : g.pick([0, 1, 3]);
  const sLo = long ? 0 : g.pick([0, -1, -2]);
  const sHi = long ? 0 : g.pick([0, 1, 2]);
  const nB = mode === 'taps' ? 1 : Math.ceil(cg / blockSize);
  const q = new Int8Array(outChannels * cg * kh * kw);
  const lo = -(2 ** (bits - 1));
  const hi = 2 ** (bits - 1) - 1;
  for (let i = 0; i < q.length; i++) q[i] = g.chance(0.05) ? 0 : g.int(lo, hi);
  if (long) for (let i = 0; i < q.length; i++) q[i] = g.chance(0.5) ? g.pick([lo, hi]) : g.int(lo, hi); // big sums
  const scales = new Float32Array(mode === 'taps' ? outChannels : outChannels * nB * kh * kw);
  for (let i = 0; i < scales.length; i++) scales[i] = (g.chance(0.5) ? -1 : 1) * 2 ** g.int(kLo, kHi);
  // Inputs: integers with |v| <= 2^(m-1)-1 times 2^s per pixel, so every BFP block is exact.
  const mmax = 2 ** (m - 1) - 1;
  const x = new Float32Array(N * inChannels * H * W);
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < H * W; p++) {
      const s = 2 ** g.int(sLo, sHi);
      const zeroPixel = g.chance(0.05);
      for (let c = 0; c < inChannels; c++) {
        let v = zeroPixel ? 0 : g.int(-mmax, mmax);
        if (long && g.chance(0.5)) v = g.pick([-mmax, mmax]);
        x[(n * inChannels + c) * H * W + p] = v * s;
      }
    }
  }
  const options = {
    inChannels, outChannels, kernelSize: [kh, kw], groups, bits, blockSize, mantissaBits: m,
    depthwiseBlocks: mode, stride: [g.int(1, 2), g.int(1, 2)], dilation: [g.int(1, 2), g.int(1, 2)],
    padding: g.pick(['same', 'valid', 1, [g.int(0, 2), g.int(0, 2), g.int(0, 2), g.int(0, 2)]]),
    activation: variant.kind === 'long' ? g.pick(['none', 'relu']) : g.pick(['none', 'relu', 'relu6']),
  };
  const shape = { batch: N, height: H, width: W, layout: g.pick(['NCHW', 'NHWC']), outputLayout: g.pick(['NCHW', 'NHWC']) };
  return { options, shape, q, scales, nB, mode, x };
}

/** Whether float32 evaluation of this config is exact (see above); conservative. */
function exactlyRepresentable(c, geom) {
  const { options, q, scales, nB, mode, x } = c;
  const C = options.inChannels;
  const HW = geom.height * geom.width;
  const actBlock = mode === 'taps' ? 1 : options.blockSize;
  let minScale = Infinity;
  for (const s of scales) if (s !== 0) minScale = Math.min(minScale, Math.abs(s));
  let minAct = Infinity;
  const pix = new Float32Array(HW * C);
  for (let n = 0; n < geom.batch; n++) {
    for (let ch = 0; ch < C; ch++) for (let p = 0; p < HW; p++) pix[p * C + ch] = x[(n * C + ch) * HW + p];
    const bfp = bfpReference(pix, HW, C, options.groups, actBlock, options.mantissaBits);
    for (const s of bfp.scales) if (s !== 0) minAct = Math.min(minAct, s);
    // The inputs were built so that BFP loses nothing: check it.
    for (let i = 0; i < pix.length; i++) {
      const p = Math.floor(i / C);
      const ch = i % C;
      const slot = (p * options.groups + Math.floor(ch / (C / options.groups))) * nB + Math.floor((ch % (C / options.groups)) / actBlock);
      if (bfp.mant[i] * bfp.scales[mode === 'taps' ? p * C + ch : slot] !== pix[i]) throw new Error(`test bug: BFP of ${pix[i]} is not exact`);
    }
  }
  if (!Number.isFinite(minAct)) return true; // all-zero input
  const abs = dsconvReference(x.map(Math.abs), { q: Int16Array.from(q, Math.abs), scales: scales.map(Math.abs), nBlocks: nB },
    mode, geom, options.blockSize, options.mantissaBits);
  return maxAbs(abs) < 2 ** 24 * minScale * minAct;
}

test('exact: power-of-two scales and BFP-exact inputs give bit-exact outputs (int4, int8, groups, depthwise, long blocks)', () => {
  const variants = [];
  for (const bits of [2, 3, 4, 5, 6, 7, 8]) {
    variants.push({ kind: 'dense', bits }, { kind: 'grouped', bits });
    for (const mode of ['channels', 'taps']) variants.push({ kind: 'depthwise', bits, mode }, { kind: 'multiplier', bits, mode });
  }
  for (const bits of [3, 4, 6, 8]) for (const blockSize of [64, 128]) variants.push({ kind: 'long', bits, blockSize });
  let ran = 0;
  let rejected = 0;
  let bigDots = 0;
  for (let vi = 0; vi < variants.length; vi++) {
    const variant = variants[vi];
    for (let rep = 0; rep < 8; rep++) {
      const seed = configSeed(SEED ^ 0xe8ac7, vi * 1000 + rep);
      const g = gen(seed);
      let c;
      let geom;
      let pad;
      let oh;
      let ow;
      for (let attempt = 0; ; attempt++) {
        if (attempt > 200) assert.unreachable(`exact variant ${JSON.stringify(variant)}: no exactly representable config found`);
        c = drawExact(g, variant);
        const { options, shape } = c;
        const [kh, kw] = options.kernelSize;
        pad = explicitPadding(options.padding, shape.height, shape.width, kh, kw, options.stride, options.dilation);
        [oh, ow] = outSize(shape.height, shape.width, kh, kw, options.stride, options.dilation, pad);
        if (oh < 1 || ow < 1) continue;
        geom = geometryOf(options, shape, pad);
        if (exactlyRepresentable(c, geom)) break;
        rejected++;
      }
      const { options, shape } = c;
      const label = `exact config ${JSON.stringify(variant)} rep ${rep} (seed ${seed}):\n  ${describeConfig(c)}`;
      const layer = DSConv2d.fromQuantized({ q: c.q, scales: c.scales }, options);
      try {
        const w = layer.weights;
        assert.ok(sameBits(w.q, c.q) && sameBits(w.scales, c.scales), `${label}: weights round trip`);
        const input = layerInput(c);
        const got = layer.forward(input, shape);
        const ref = dsconvReference(c.x, { q: c.q, scales: c.scales, nBlocks: c.nB }, c.mode, geom,
          options.blockSize, options.mantissaBits, { activation: options.activation });
        compareOutput(got, ref, shape.batch, options.outChannels, oh, ow, shape.outputLayout, maxAbs(ref), true, label);
        if (variant.kind === 'long') {
          // The integer sums must really be large here (beyond int16, towards 2^20).
          const unit = Math.min(...Array.from(c.scales, Math.abs));
          if (maxAbs(ref) / unit >= 2 ** 16) bigDots++;
        }
      } finally {
        layer.dispose();
      }
      ran++;
    }
  }
  assert.is(ran, variants.length * 8);
  assert.ok(bigDots >= 16, `long-block configs with sums >= 2^16 units: ${bigDots}`);
  assert.ok(rejected < 10 * ran, `too many drawn configs were not exactly representable (${rejected} for ${ran})`);
});

// ---------------------------------------------------------------------------------------------
// Input untouched, repeatable, independent of call order.

function fixedLayers() {
  const g = gen(SEED ^ 0x1a7e);
  const specs = [
    { inChannels: 19, outChannels: 13, kernelSize: 3, padding: 'same', bits: 4, blockSize: 8, mantissaBits: 8, bias: true },
    { inChannels: 24, outChannels: 18, kernelSize: [3, 2], stride: 2, groups: 3, padding: [1, 0, 2, 1], bits: 8, blockSize: 5, mantissaBits: 6 },
    { inChannels: 12, outChannels: 12, groups: 12, kernelSize: 5, padding: 4, dilation: 2, bits: 6, mantissaBits: 5, activation: 'relu6' },
    { inChannels: 7, outChannels: 14, groups: 7, kernelSize: 3, padding: 'same', bits: 3, depthwiseBlocks: 'taps', activation: 'relu' },
    { inChannels: 70, outChannels: 9, kernelSize: 1, bits: 2, blockSize: 64, mantissaBits: 3, gamma: true, delta: true },
  ];
  return specs.map((s) => {
    const o = { ...s };
    for (const k of ['bias', 'gamma', 'delta']) {
      if (o[k]) o[k] = Float32Array.from({ length: o.outChannels }, () => g.normal());
    }
    const [kh, kw] = pair(o.kernelSize);
    const w = Float32Array.from({ length: o.outChannels * (o.inChannels / (o.groups ?? 1)) * kh * kw }, () => g.normal());
    const inputs = [[5, 7, 1, 'NCHW'], [9, 4, 2, 'NHWC'], [1, 1, 1, 'NCHW'], [12, 11, 3, 'NHWC']].map(([h, wd, n, layout]) => ({
      x: Float32Array.from({ length: n * o.inChannels * h * wd }, () => g.normal()),
      shape: { batch: n, height: h, width: wd, layout, outputLayout: layout === 'NCHW' ? 'NHWC' : 'NCHW' },
    }));
    return { options: o, weights: w, inputs };
  });
}

test('forward: input untouched, repeated calls identical, results independent of call order', () => {
  const specs = fixedLayers();
  // Expected: each layer alone, first call on a fresh layer, disposed before the next is made.
  const expected = specs.map((s) => {
    const layer = DSConv2d.fromFloat(s.weights, s.options);
    try {
      return s.inputs.map((inp) => layer.forward(inp.x, inp.shape));
    } finally {
      layer.dispose();
    }
  });
  const layers = specs.map((s) => DSConv2d.fromFloat(s.weights, s.options));
  try {
    const g = gen(SEED ^ 0x0de7);
    const copies = specs.map((s) => s.inputs.map((inp) => inp.x.slice()));
    // Many interleavings: round robin both ways, then random order with random input shapes,
    // so scratch buffers grow, shrink in use, and indirection buffers are rebuilt in between.
    const order = [];
    for (let rep = 0; rep < 2; rep++) {
      for (let i = 0; i < specs.length; i++) for (let j = 0; j < 4; j++) order.push([i, j]);
      for (let j = 3; j >= 0; j--) for (let i = specs.length - 1; i >= 0; i--) order.push([i, j]);
    }
    for (let t = 0; t < 150; t++) order.push([g.int(0, specs.length - 1), g.int(0, 3)]);
    for (const [i, j] of order) {
      const got = layers[i].forward(specs[i].inputs[j].x, specs[i].inputs[j].shape);
      if (!sameBits(got, expected[i][j])) {
        assert.unreachable(`layer ${i} (${describeConfig({ options: specs[i].options, shape: specs[i].inputs[j].shape })}) ` +
          `input ${j}: result differs after interleaved calls`);
      }
    }
    for (let i = 0; i < specs.length; i++) {
      for (let j = 0; j < 4; j++) assert.ok(sameBits(specs[i].inputs[j].x, copies[i][j]), `layer ${i} input ${j} was modified`);
    }
    // And the first results agree with the reference (so "identical" is not "identically wrong").
    for (let i = 0; i < specs.length; i++) {
      const s = specs[i];
      const o = s.options;
      const [kh, kw] = pair(o.kernelSize);
      for (let j = 0; j < 4; j++) {
        const { x, shape } = s.inputs[j];
        const pad = explicitPadding(o.padding, shape.height, shape.width, kh, kw, o.stride ?? 1, o.dilation ?? 1);
        const [oh, ow] = outSize(shape.height, shape.width, kh, kw, o.stride ?? 1, o.dilation ?? 1, pad);
        const nchw = shape.layout === 'NCHW' ? x : (() => {
          // The stored input is NHWC: bring it back to NCHW for the reference.
          const N = shape.batch;
          const C = o.inChannels;
          const HW = shape.height * shape.width;
          const out = new Float32Array(x.length);
          for (let n = 0; n < N; n++) for (let p = 0; p < HW; p++) for (let c = 0; c < C; c++) out[(n * C + c) * HW + p] = x[(n * HW + p) * C + c];
          return out;
        })();
        const qw = layers[i].weights;
        const geom = geometryOf(o, shape, pad);
        const mode = o.depthwiseBlocks ?? 'channels';
        const ep = { bias: o.bias, gamma: o.gamma, delta: o.delta, activation: o.activation ?? 'none' };
        const ref = dsconvReference(nchw, qw, mode, geom, o.blockSize ?? 32, o.mantissaBits ?? 8, ep);
        const pre = dsconvReference(nchw, qw, mode, geom, o.blockSize ?? 32, o.mantissaBits ?? 8, { ...ep, activation: 'none' });
        compareOutput(expected[i][j], ref, shape.batch, o.outChannels, oh, ow, shape.outputLayout, maxAbs(pre), false,
          `fixed layer ${i} input ${j}: ${describeConfig({ options: o, shape })}`);
      }
    }
  } finally {
    for (const l of layers) l.dispose();
  }
});

test('forward: the same layer rebuilt with fromQuantized(layer.weights) gives identical results', () => {
  const specs = fixedLayers();
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i];
    const a = DSConv2d.fromFloat(s.weights, s.options);
    const b = DSConv2d.fromQuantized(a.weights, s.options);
    try {
      for (const inp of s.inputs) {
        const ya = a.forward(inp.x, inp.shape);
        const yb = b.forward(inp.x, inp.shape);
        assert.ok(sameBits(ya, yb), `layer ${i}: fromFloat and fromQuantized(weights) differ`);
      }
    } finally {
      a.dispose();
      b.dispose();
    }
  }
});

test('tiny activations: the block scale is applied last, so the sum keeps float32 precision', () => {
  // |ξ| * 2^(E-m+2) here is below 2^-126: formed first, it would be subnormal and lose bits.
  const w = new Float32Array([1, -0.75, 0.5, 0.3, -0.9, 0.1, 0.6, -0.2].map((v) => v * 2 ** -12));
  const x = new Float32Array([1.3, 0.7, -1.1, 0.9, 0.2, -1.7, 1.9, 0.4].map((v) => v * 2 ** -110));
  const layer = DSConv2d.fromFloat(w, { inChannels: 8, outChannels: 1, kernelSize: 1, bits: 8, blockSize: 8 });
  const y = layer.forward(x, { height: 1, width: 1 });
  const geo = { batch: 1, inChannels: 8, height: 1, width: 1, outChannels: 1, kh: 1, kw: 1, stride: [1, 1], padding: [0, 0, 0, 0], dilation: [1, 1], groups: 1 };
  const ref = dsconvReference(x, layer.weights, 'channels', geo, 8, 8)[0];
  layer.dispose();
  assert.ok(Math.abs(y[0] - ref) <= 1e-6 * Math.abs(ref), `got ${y[0]}, reference ${ref}`);
});

test.run();
