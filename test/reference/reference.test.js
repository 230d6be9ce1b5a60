import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ZERO_BLOCK,
  bfpReference,
  outputSize,
  conv2dReference,
  dsconvReference,
  sqnrDb,
  roundHalfAwayFromZero,
} from 'dsconv/reference';
import { quantizeWeights } from 'dsconv';
import { rng, randn } from '../util.js';

const f = Math.fround;
const FMAX = 3.4028234663852886e38; // largest finite float32 = (2 - 2^-23) * 2^127

// One pixel, one block holding all the values.
function bfp1(values, m) {
  return bfpReference(new Float32Array(values), 1, values.length, 1, values.length, m);
}

function geom(over) {
  return {
    batch: 1, inChannels: 1, height: 3, width: 3, outChannels: 1, kh: 2, kw: 2,
    stride: [1, 1], padding: [0, 0, 0, 0], dilation: [1, 1], groups: 1, ...over,
  };
}

const X9 = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9]); // 3x3: rows [1 2 3] [4 5 6] [7 8 9]
const K4 = new Float32Array([1, 2, 3, 4]); // 2x2: rows [1 2] [3 4]

test('roundHalfAwayFromZero', () => {
  const cases = [[0.5, 1], [-0.5, -1], [1.5, 2], [2.5, 3], [-2.5, -3], [0.49999999999999994, 0],
    [-0.49999999999999994, 0], [2.4999999999999996, 2], [127.5, 128], [-0.2, 0]];
  for (const [t, want] of cases) assert.is(roundHalfAwayFromZero(t), want, `round(${t})`);
  assert.ok(Object.is(roundHalfAwayFromZero(-0.2), 0), 'no -0');
});

test('BFP: all-zero block', () => {
  const r = bfp1([0, -0, 0, 0], 8);
  assert.equal(Array.from(r.mant), [0, 0, 0, 0]);
  assert.equal(Array.from(r.exps), [ZERO_BLOCK]);
  assert.equal(Array.from(r.scales), [0]);
  assert.is(ZERO_BLOCK, -1000);
});

test('BFP: subnormals flush to zero', () => {
  // A block of only subnormals (1e-40 is below the float32 min normal 2^-126 ≈ 1.18e-38).
  let r = bfp1([f(1e-40), f(-1e-40), 0], 8);
  assert.equal(Array.from(r.mant), [0, 0, 0]);
  assert.equal(Array.from(r.exps), [ZERO_BLOCK]);
  assert.equal(Array.from(r.scales), [0]);
  // With the min normal 2^-126 in the block: E = -126, shift 2^(8-2+126) = 2^132, so
  // 2^-126 -> 64. The subnormal 2^-127 would give 32 unflushed, but flushes to 0.
  r = bfp1([2 ** -126, 2 ** -127, -(2 ** -127)], 8);
  assert.equal(Array.from(r.mant), [64, 0, 0]);
  assert.equal(Array.from(r.exps), [-126]);
  assert.equal(Array.from(r.scales), [2 ** -132]);
});

test('BFP: largest finite float32 and its negative', () => {
  // E = 127; m=8: FMAX * 2^(6-127) = (2 - 2^-23) * 64 = 128 - 2^-17 -> 128 -> clamp 127.
  // 1 * 2^-121 rounds to 0. Scale = 2^(127-6) = 2^121.
  let r = bfp1([FMAX, -FMAX, 1], 8);
  assert.equal(Array.from(r.mant), [127, -127, 0]);
  assert.equal(Array.from(r.exps), [127]);
  assert.equal(Array.from(r.scales), [2 ** 121]);
  // m=2: FMAX * 2^(0-127) = 2 - 2^-23 -> 2 -> clamp 1.
  r = bfp1([-FMAX], 2);
  assert.equal(Array.from(r.mant), [-1]);
  assert.equal(Array.from(r.scales), [2 ** 127]);
});

test('BFP: exact ties round half away from zero, both signs', () => {
  // m=8, block max 64 -> E=6, shift 2^(8-2-6) = 1, so M = round(v) and scale 2^0 = 1.
  let r = bfp1([64, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 63.5, -63.5, f(0.5 - 2 ** -25)], 8);
  assert.equal(Array.from(r.mant), [64, 1, -1, 2, -2, 3, -3, 64, -64, 0]);
  assert.equal(Array.from(r.exps), [6]);
  assert.equal(Array.from(r.scales), [1]);
  // m=4, block max 15 -> E=3, shift 2^(4-2-3) = 1/2, range ±7, scale 2^(3-4+2) = 2.
  // v:  8  1  -1  3  -3  15   -15   13   -13   5
  // v/2 4 .5 -.5 1.5 -1.5 7.5 -7.5  6.5  -6.5  2.5
  // M:  4  1  -1  2  -2   7    -7    7    -7   3     (8 and -8 clamp to ±7)
  r = bfp1([8, 1, -1, 3, -3, 15, -15, 13, -13, 5], 4);
  assert.equal(Array.from(r.mant), [4, 1, -1, 2, -2, 7, -7, 7, -7, 3]);
  assert.equal(Array.from(r.exps), [3]);
  assert.equal(Array.from(r.scales), [2]);
});

test('BFP: values rounding to 2^(m-1) clamp to 2^(m-1)-1', () => {
  // m=8, E=6, shift 1: 127.5 -> 128 -> 127; -127.75 -> -128 -> -127; 127.25 -> 127.
  const r = bfp1([127.5, -127.75, 127.25], 8);
  assert.equal(Array.from(r.mant), [127, -127, 127]);
  assert.equal(Array.from(r.exps), [6]);
});

test('BFP: mantissa bits 2..8', () => {
  // Block [2 - 2^-23, 1.5, -0.75, 1, 0.25]: E = 0, shift 2^(m-2), scale 2^(2-m).
  // (2 - 2^-23)·2^(m-2) rounds to 2^(m-1) and clamps to 2^(m-1)-1.
  const v = [f(2 - 2 ** -23), 1.5, -0.75, 1, 0.25];
  const want = {
    2: [1, 1, -1, 1, 0], // shift 1: 1.5 -> 2 -> clamp 1, -0.75 -> -1, 0.25 -> 0
    3: [3, 3, -2, 2, 1], // shift 2: 3, -1.5 -> -2, 2, 0.5 -> 1
    4: [7, 6, -3, 4, 1], // shift 4
    5: [15, 12, -6, 8, 2],
    6: [31, 24, -12, 16, 4],
    7: [63, 48, -24, 32, 8],
    8: [127, 96, -48, 64, 16],
  };
  for (let m = 2; m <= 8; m++) {
    const r = bfp1(v, m);
    assert.equal(Array.from(r.mant), want[m], `m=${m}`);
    assert.equal(Array.from(r.exps), [0]);
    assert.equal(Array.from(r.scales), [2 ** (2 - m)]);
  }
});

test('BFP: E from the exponent bits (just below a power of two, negative max)', () => {
  // 1 - 2^-24 has exponent -1; -4 has exponent 2.
  assert.equal(Array.from(bfp1([f(1 - 2 ** -24)], 8).exps), [-1]);
  // [-4, 1]: E=2, shift 2^4: -64, 16.
  const r = bfp1([-4, 1], 8);
  assert.equal(Array.from(r.exps), [2]);
  assert.equal(Array.from(r.mant), [-64, 16]);
});

test('BFP: group-major block layout with short blocks', () => {
  // 2 pixels, 6 channels, groups=2 (C_g=3), B=2 -> per group blocks {0,1},{2}; 4 slots a pixel.
  // pixel 0: [1, 2 | 4 || 8, 16 | 0], m=8
  //   g0b0 E=1 shift 2^5: 32, 64; g0b1 E=2 shift 2^4: 64; g1b0 E=4 shift 2^2: 32, 64; g1b1 zero.
  // pixel 1: [-3, 0.75 | 0 || 0, 0 | -0.1]
  //   g0b0 E=1: -96, 24; g0b1 zero; g1b0 zero; g1b1 E=-4 (0.1 = 1.6·2^-4), shift 2^10:
  //   -0.1f·1024 = -102.40000152… -> -102.
  const x = new Float32Array([1, 2, 4, 8, 16, 0, -3, 0.75, 0, 0, 0, -0.1]);
  const r = bfpReference(x, 2, 6, 2, 2, 8);
  assert.equal(Array.from(r.mant), [32, 64, 64, 32, 64, 0, -96, 24, 0, 0, 0, -102]);
  assert.equal(Array.from(r.exps), [1, 2, 4, ZERO_BLOCK, 1, ZERO_BLOCK, ZERO_BLOCK, -4]);
  assert.equal(Array.from(r.scales), [2 ** -5, 2 ** -4, 2 ** -2, 0, 2 ** -5, 0, 0, 2 ** -10]);
});

test('BFP: NaN and Inf are errors naming the first bad index', () => {
  const check = (values, msg) =>
    assert.throws(() => bfp1(values, 8), (e) => e instanceof RangeError && e.message === msg);
  check([1, 2, NaN, Infinity], 'input[2] is NaN; expected finite values');
  check([1, -Infinity, NaN], 'input[1] is -Infinity; expected finite values');
  check([Infinity], 'input[0] is Infinity; expected finite values');
  assert.throws(() => bfpReference(new Float32Array(5), 1, 6, 1, 2, 8), (e) => e instanceof RangeError);
  assert.throws(() => bfp1([1], 1), (e) => e instanceof RangeError);
  assert.throws(() => bfp1([1], 9), (e) => e instanceof RangeError);
});

test('outputSize', () => {
  assert.equal(outputSize(geom({})), [2, 2]);
  assert.equal(outputSize(geom({ stride: [2, 2] })), [1, 1]);
  assert.equal(outputSize(geom({ padding: [1, 1, 1, 1] })), [4, 4]);
  assert.equal(outputSize(geom({ dilation: [2, 2] })), [1, 1]);
  // H=7, W=5, k=3x3, stride 2x1, pad [1,0,2,0], dil 1x2: oh = floor((7+3-2-1)/2)+1 = 4, ow = 5-4-1+1 = 1
  assert.equal(outputSize(geom({ height: 7, width: 5, kh: 3, kw: 3, stride: [2, 1], padding: [1, 0, 2, 0], dilation: [1, 2] })), [4, 1]);
});

// Hand-computed float convs. Each also runs through dsconvReference with weights and
// inputs that quantize exactly, so the DSConv path must give the same numbers.
const handCases = [
  {
    name: '1 channel 3x3, 2x2 kernel',
    // (0,0) 1·1+2·2+4·3+5·4 = 37; (0,1) 2+6+15+24 = 47; (1,0) 4+10+21+32 = 67; (1,1) 5+12+24+36 = 77
    g: geom({}), x: X9, w: K4, want: [37, 47, 67, 77],
  },
  {
    name: 'stride 2 with bottom/right padding',
    // oh = floor((3+1-1-1)/2)+1 = 2. (0,0) = 37; (0,1): cols 2,3 -> 3·1+6·3 = 21;
    // (1,0): rows 2,3 -> 7·1+8·2 = 23; (1,1): 9·1 = 9
    g: geom({ stride: [2, 2], padding: [0, 0, 1, 1] }), x: X9, w: K4, want: [37, 21, 23, 9],
  },
  {
    name: 'padding 1 on every side',
    // out(y,x) = Σ in(y-1+i, x-1+j)·k[i][j]
    // row 0 (only input row 0 with k row [3 4]): 4·1=4, 3·1+4·2=11, 3·2+4·3=18, 3·3=9
    // row 1: 2·1+4·4=18, 37, 47, 1·3+3·6=21
    // row 2: 2·4+4·7=36, 67, 77, 6+3·9=33
    // row 3 (only input row 2 with k row [1 2]): 2·7=14, 7+16=23, 8+18=26, 9
    g: geom({ padding: [1, 1, 1, 1] }), x: X9, w: K4,
    want: [4, 11, 18, 9, 18, 37, 47, 21, 36, 67, 77, 33, 14, 23, 26, 9],
  },
  {
    name: 'dilation 2',
    // taps at (0,0),(0,2),(2,0),(2,2): 1·1+3·2+7·3+9·4 = 64
    g: geom({ dilation: [2, 2] }), x: X9, w: K4, want: [64],
  },
  {
    name: 'groups=2, 1x1 kernel',
    // in: ch0 [1,2], ch1 [3,4], ch2 [5,6], ch3 [7,8] (H=1, W=2). o0 sees ch0,ch1 with [1,10];
    // o1 sees ch2,ch3 with [100,1000]. o0 = [1+30, 2+40]; o1 = [500+7000, 600+8000]
    g: geom({ inChannels: 4, outChannels: 2, height: 1, width: 2, kh: 1, kw: 1, groups: 2 }),
    x: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]), w: new Float32Array([1, 10, 100, 1000]),
    want: [31, 42, 7500, 8600],
  },
  {
    name: 'depthwise (groups = channels = 2)',
    // ch0 = 1..9 with [[1,2],[3,4]] -> 37 47 67 77; ch1 = 9..1 with [[1,1],[1,1]] -> window sums
    // 9+8+6+5 = 28, 8+7+5+4 = 24, 6+5+3+2 = 16, 5+4+2+1 = 12
    g: geom({ inChannels: 2, outChannels: 2, groups: 2 }),
    x: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 8, 7, 6, 5, 4, 3, 2, 1]),
    w: new Float32Array([1, 2, 3, 4, 1, 1, 1, 1]),
    want: [37, 47, 67, 77, 28, 24, 16, 12], depthwise: true,
  },
  {
    name: 'batch 2 (second image doubled)',
    g: geom({ batch: 2 }), x: new Float32Array([...X9, ...X9.map((v) => 2 * v)]), w: K4,
    want: [37, 47, 67, 77, 74, 94, 134, 154],
  },
];

for (const c of handCases) {
  test(`conv2dReference: ${c.name}`, () => {
    assert.equal(Array.from(conv2dReference(c.x, c.w, c.g)), c.want);
  });
  test(`dsconvReference (exact data): ${c.name}`, () => {
    // B=1 blocks: each weight is its own block, so ξ·q = w exactly; the small integer inputs
    // have at most 7 significant bits, so m=8 BFP is exact too.
    const shape = { outChannels: c.g.outChannels, groupChannels: c.g.inChannels / c.g.groups, kh: c.g.kh, kw: c.g.kw };
    const qw = quantizeWeights(c.w, shape, 4, 1, 'channels');
    assert.equal(Array.from(dsconvReference(c.x, qw, 'channels', c.g, 1, 8)), c.want);
    if (c.depthwise) {
      // Taps mode: [1,2,3,4] -> mx=4, q = -2w = [-2,-4,-6,-8], ξ = -60/120 = -0.5;
      // [1,1,1,1] -> q = -8, ξ = -1/8. Both reconstruct exactly.
      const qt = quantizeWeights(c.w, shape, 4, 32, 'taps');
      assert.equal(Array.from(qt.scales), [-0.5, -0.125]);
      assert.equal(Array.from(dsconvReference(c.x, qt, 'taps', c.g, 32, 8)), c.want);
    }
  });
}

test('epilogue: bias, then gamma/delta, then activation', () => {
  // conv = [37, 47, 67, 77]; bias -50 -> [-13, -3, 17, 27]; 0.5·y + 1 -> [-5.5, -0.5, 9.5, 14.5]
  const ep = { bias: new Float32Array([-50]), gamma: new Float32Array([0.5]), delta: new Float32Array([1]) };
  const g = geom({});
  assert.equal(Array.from(conv2dReference(X9, K4, g, ep)), [-5.5, -0.5, 9.5, 14.5]);
  assert.equal(Array.from(conv2dReference(X9, K4, g, { ...ep, activation: 'none' })), [-5.5, -0.5, 9.5, 14.5]);
  assert.equal(Array.from(conv2dReference(X9, K4, g, { ...ep, activation: 'relu' })), [0, 0, 9.5, 14.5]);
  assert.equal(Array.from(conv2dReference(X9, K4, g, { ...ep, activation: 'relu6' })), [0, 0, 6, 6]);
  // bias only: [37-50, ...]; gamma only: 2·conv
  assert.equal(Array.from(conv2dReference(X9, K4, g, { bias: new Float32Array([-50]) })), [-13, -3, 17, 27]);
  assert.equal(Array.from(conv2dReference(X9, K4, g, { gamma: new Float32Array([2]) })), [74, 94, 134, 154]);
  // Same epilogue through the DSConv path (exact data).
  const qw = quantizeWeights(K4, { outChannels: 1, groupChannels: 1, kh: 2, kw: 2 }, 4, 1, 'channels');
  assert.equal(Array.from(dsconvReference(X9, qw, 'channels', g, 1, 8, { ...ep, activation: 'relu6' })), [0, 0, 6, 6]);
});

test('dsconvReference: lossy hand case (b=2, m=4)', () => {
  // One pixel, 2 channels x = [3, 1], 1x1 kernel, B=2, m=4:
  //   E = 1 (3 = 1.5·2), shift 2^(4-2-1) = 2 -> M = [6, 2], activation scale 2^(1-4+2) = 0.5
  // Weights [1, -0.75], b=2: mx = 1, t = -2w = [-2, 1.5] -> [-2, 2 (tie to even) -> clamp 1]
  //   Σwq = -2 - 0.75 = -2.75, Σqq = 5 -> ξ = f(-0.55)
  // y = ξ · 0.5 · (-2·6 + 1·2) = ξ · 0.5 · (-10); the float conv gives 3 - 0.75 = 2.25.
  const g = geom({ inChannels: 2, height: 1, width: 1, kh: 1, kw: 1 });
  const qw = quantizeWeights(new Float32Array([1, -0.75]), { outChannels: 1, groupChannels: 2, kh: 1, kw: 1 }, 2, 2, 'channels');
  assert.equal(Array.from(qw.q), [-2, 1]);
  assert.equal(Array.from(qw.scales), [f(-0.55)]);
  const y = dsconvReference(new Float32Array([3, 1]), qw, 'channels', g, 2, 4);
  assert.equal(Array.from(y), [f(-0.55) * 0.5 * -10]);
  assert.equal(Array.from(conv2dReference(new Float32Array([3, 1]), new Float32Array([1, -0.75]), g)), [2.25]);
});

test('dsconvReference: taps mode, depthwise, hand case', () => {
  // Kernel [0.5, -1, 1, 0.25] -> q = [4, -8, 7, 2], ξ = f(17.5/133) (see quantize tests).
  // Input all ones (m=8): E=0, M=64, scale 2^-6, so every tap gives ξ·q_t and
  // y = ξ·(4 - 8 + 7 + 2) = 5ξ at each of the 2x2 outputs (all products exact).
  const g = geom({});
  const w = new Float32Array([0.5, -1, 1, 0.25]);
  const qw = quantizeWeights(w, { outChannels: 1, groupChannels: 1, kh: 2, kw: 2 }, 4, 32, 'taps');
  const xi = f(17.5 / 133);
  const y = dsconvReference(new Float32Array(9).fill(1), qw, 'taps', g, 32, 8);
  assert.equal(Array.from(y), [5 * xi, 5 * xi, 5 * xi, 5 * xi]);
});

// Build the dequantized tensors on the test side and run them through conv2dReference
// (JS lets us pass Float64Array weights): same math, only the summation order differs.
function dequantCheck(r, g, bits, B, m, mode) {
  const { batch: N, inChannels: C, height: H, width: W, outChannels: O, kh, kw, groups } = g;
  const Cg = C / groups;
  const x = randn(r, N * C * H * W);
  const w = randn(r, O * Cg * kh * kw);
  const qw = quantizeWeights(w, { outChannels: O, groupChannels: Cg, kh, kw }, bits, B, mode);
  const aB = mode === 'taps' ? 1 : B;
  const nB = qw.nBlocks;
  const wHat = new Float64Array(w.length);
  for (let o = 0; o < O; o++)
    for (let c = 0; c < Cg; c++)
      for (let t = 0; t < kh * kw; t++) {
        const k = (o * Cg + c) * kh * kw + t;
        wHat[k] = qw.q[k] * (mode === 'taps' ? qw.scales[o] : qw.scales[(o * nB + Math.floor(c / B)) * kh * kw + t]);
      }
  const xHat = new Float32Array(x.length);
  for (let n = 0; n < N; n++) {
    const pix = new Float32Array(H * W * C);
    for (let c = 0; c < C; c++) for (let p = 0; p < H * W; p++) pix[p * C + c] = x[(n * C + c) * H * W + p];
    const b = bfpReference(pix, H * W, C, groups, aB, m);
    const nbA = Math.ceil(Cg / aB);
    for (let c = 0; c < C; c++)
      for (let p = 0; p < H * W; p++) {
        const slot = (p * groups + Math.floor(c / Cg)) * nbA + Math.floor((c % Cg) / aB);
        xHat[(n * C + c) * H * W + p] = b.mant[p * C + c] * b.scales[slot];
      }
  }
  const ep = { bias: randn(r, O), gamma: randn(r, O), delta: randn(r, O), activation: 'none' };
  const want = conv2dReference(xHat, wHat, g, ep);
  const got = dsconvReference(x, qw, mode, g, B, m, ep);
  assert.is(got.length, want.length);
  for (let k = 0; k < got.length; k++) {
    assert.ok(Math.abs(got[k] - want[k]) <= 1e-9 * (1 + Math.abs(want[k])), `index ${k}: ${got[k]} vs ${want[k]}`);
  }
  return { x, w, qw, got };
}

test('dsconvReference equals conv of dequantized tensors (groups, stride, padding, dilation)', () => {
  const r = rng(11);
  dequantCheck(r, geom({ batch: 2, inChannels: 12, outChannels: 4, height: 6, width: 5, kh: 3, kw: 3, padding: [1, 1, 1, 1], groups: 2 }), 4, 4, 8, 'channels');
  dequantCheck(r, geom({ inChannels: 10, outChannels: 3, height: 7, width: 7, kh: 3, kw: 2, stride: [2, 1], padding: [0, 1, 2, 0], dilation: [2, 1] }), 3, 4, 5, 'channels');
  dequantCheck(r, geom({ inChannels: 40, outChannels: 2, height: 3, width: 3, kh: 1, kw: 1 }), 8, 32, 2, 'channels');
  dequantCheck(r, geom({ batch: 2, inChannels: 6, outChannels: 6, height: 5, width: 5, kh: 3, kw: 3, padding: [1, 1, 1, 1], groups: 6 }), 4, 32, 8, 'taps');
  dequantCheck(r, geom({ inChannels: 4, outChannels: 8, height: 5, width: 4, kh: 3, kw: 3, stride: [2, 2], padding: [1, 1, 1, 1], groups: 4 }), 4, 1, 6, 'channels');
});

test('dsconvReference at 8 bits / 8 mantissa bits is close to float (SQNR > 30 dB)', () => {
  const r = rng(2019);
  for (const [g, B, mode] of [
    [geom({ inChannels: 16, outChannels: 8, height: 8, width: 8, kh: 3, kw: 3, padding: [1, 1, 1, 1] }), 8, 'channels'],
    [geom({ batch: 2, inChannels: 64, outChannels: 4, height: 5, width: 5, kh: 3, kw: 3, stride: [2, 2], padding: [1, 1, 1, 1] }), 32, 'channels'],
    [geom({ inChannels: 8, outChannels: 8, height: 6, width: 6, kh: 3, kw: 3, padding: [1, 1, 1, 1], groups: 8 }), 32, 'taps'],
  ]) {
    const Cg = g.inChannels / g.groups;
    const x = randn(r, g.batch * g.inChannels * g.height * g.width);
    const w = randn(r, g.outChannels * Cg * g.kh * g.kw);
    const qw = quantizeWeights(w, { outChannels: g.outChannels, groupChannels: Cg, kh: g.kh, kw: g.kw }, 8, B, mode);
    const s = sqnrDb(conv2dReference(x, w, g), dsconvReference(x, qw, mode, g, B, 8));
    assert.ok(s > 30, `${mode}: SQNR ${s.toFixed(2)} dB`);
  }
});

test('sqnrDb', () => {
  assert.is(sqnrDb([1, 2, 3], [1, 2, 3]), Infinity);
  assert.is(sqnrDb([3, 4], [3, 3]), 10 * Math.log10(25)); // 25 / 1
  assert.is(sqnrDb([1, 0], [0, 0]), 0); // 1 / 1
  assert.is(sqnrDb(new Float64Array([2]), new Float32Array([1])), 10 * Math.log10(4));
  assert.throws(() => sqnrDb([1], [1, 2]), (e) => e instanceof RangeError);
});

test('conv/dsconv argument errors', () => {
  const g = geom({});
  const isRange = (e) => e instanceof RangeError;
  const qw = quantizeWeights(K4, { outChannels: 1, groupChannels: 1, kh: 2, kw: 2 }, 4, 1, 'channels');
  const bad = new Float32Array(X9);
  bad[4] = NaN;
  assert.throws(() => dsconvReference(bad, qw, 'channels', g, 1, 8), (e) => isRange(e) && e.message === 'input[4] is NaN; expected finite values');
  assert.throws(() => conv2dReference(bad, K4, g), (e) => isRange(e) && /input\[4\] is NaN/.test(e.message));
  assert.throws(() => conv2dReference(new Float32Array(8), K4, g), isRange);
  assert.throws(() => conv2dReference(X9, new Float32Array(3), g), isRange);
  assert.throws(() => conv2dReference(X9, K4, geom({ inChannels: 3, groups: 2 })), isRange);
  assert.throws(() => conv2dReference(X9, K4, geom({ kh: 5 })), isRange); // empty output
  assert.throws(() => conv2dReference(X9, K4, g, { bias: new Float32Array(2) }), isRange);
  const qt = quantizeWeights(K4, { outChannels: 1, groupChannels: 1, kh: 2, kw: 2 }, 4, 32, 'taps');
  assert.throws(() => dsconvReference(X9, qt, 'channels', g, 1, 8), isRange); // 1 scale, 4 needed
  assert.throws(() => dsconvReference(X9, qw, 'taps', g, 1, 8), isRange); // 4 scales, 1 needed
  const g2 = geom({ inChannels: 2 });
  const q2 = quantizeWeights(new Float32Array(8), { outChannels: 1, groupChannels: 2, kh: 2, kw: 2 }, 4, 1, 'channels');
  assert.throws(() => dsconvReference(new Float32Array(18), q2, 'taps', g2, 1, 8), isRange); // C_g = 2
  assert.throws(() => dsconvReference(new Float32Array(18), q2, 'channels', g2, 2, 8), isRange); // nBlocks 2 vs 1
  assert.throws(() => dsconvReference(X9, qw, 'channels', g, 1, 9), isRange);
});

test.run();
