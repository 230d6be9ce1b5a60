import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { quantizeWeights, packedWeightBytes, packInts, unpackInts } from 'dsconv';
import { roundHalfEven } from '../../dist/core/internal.js';
import { rng, randn } from '../util.js';

const f = Math.fround;

// One output channel, 1x1 kernel: the block vector is just the channel list.
function quant1(values, bits, blockSize = values.length) {
  const w = new Float32Array(values);
  return quantizeWeights(w, { outChannels: 1, groupChannels: w.length, kh: 1, kw: 1 }, bits, blockSize, 'channels');
}

test('roundHalfEven: ties to even, both signs, no -0', () => {
  const cases = [
    [0.5, 0], [1.5, 2], [2.5, 2], [3.5, 4], [-0.5, 0], [-1.5, -2], [-2.5, -2], [-3.5, -4],
    [0.49999999999999994, 0], [-0.49999999999999994, 0], [1.4999999999999998, 1],
    [2.5000000000000004, 3], [-2.5000000000000004, -3], [0.7, 1], [-0.7, -1], [7, 7], [-8, -8],
    [4503599627370495.5, 4503599627370496], // 2^52 - 0.5: floor is odd, goes up
    [4503599627370494.5, 4503599627370494],
  ];
  for (const [t, want] of cases) assert.is(roundHalfEven(t), want, `roundHalfEven(${t})`);
  assert.ok(Object.is(roundHalfEven(-0.5), 0), '-0.5 gives +0');
  assert.ok(Object.is(roundHalfEven(-0), 0), '-0 gives +0');
});

test('max-magnitude entry negative: scale is positive', () => {
  // b=4, w=[-2, 1, 0.5, -1], mx=-2: t = (-8w)/(-2) = 4w = [-8, 4, 2, -4] (all exact).
  // Σwq = 16+4+1+4 = 25, Σqq = 64+16+4+16 = 100, ξ = 0.25.
  const r = quant1([-2, 1, 0.5, -1], 4);
  assert.equal(Array.from(r.q), [-8, 4, 2, -4]);
  assert.equal(Array.from(r.scales), [0.25]);
  assert.is(r.nBlocks, 1);
});

test('max-magnitude entry positive: scale is negative', () => {
  // b=4, w=[2, -1], mx=2: t = -4w = [-8, 4]; Σwq = -16-4 = -20, Σqq = 80, ξ = -0.25.
  const r = quant1([2, -1], 4);
  assert.equal(Array.from(r.q), [-8, 4]);
  assert.equal(Array.from(r.scales), [-0.25]);
});

test('+a/-a tie: the first in channel order is mx (and +2^(b-1) clamps)', () => {
  // w=[1, -1]: mx=1, t = -8w = [-8, 8]; 8 clamps to 7. Σwq = -8-7 = -15, Σqq = 64+49 = 113.
  let r = quant1([1, -1], 4);
  assert.equal(Array.from(r.q), [-8, 7]);
  assert.equal(Array.from(r.scales), [f(-15 / 113)]);
  // w=[-1, 1]: mx=-1, t = 8w = [-8, 8] -> [-8, 7]. Σwq = 8+7 = 15: same magnitude, opposite sign.
  r = quant1([-1, 1], 4);
  assert.equal(Array.from(r.q), [-8, 7]);
  assert.equal(Array.from(r.scales), [f(15 / 113)]);
  // A tie that is not at the start: [0.5, -2, 2] -> mx = -2, t = 4w = [2, -8, 8 -> 7].
  r = quant1([0.5, -2, 2], 4);
  assert.equal(Array.from(r.q), [2, -8, 7]);
  // Σwq = 1 + 16 + 14 = 31, Σqq = 4 + 64 + 49 = 117
  assert.equal(Array.from(r.scales), [f(31 / 117)]);
});

test('exact .5 ties in t round to even, both signs', () => {
  // b=4, mx=-8 so t = (-8w)/(-8) = w exactly.
  // w:  -8, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, -3.5, 6.5, -7.5
  // q:  -8,   0,   2,   2,    0,   -2,   -2,   4,   -4,   6,   -8
  // Σwq = 64+0+3+5+0+3+5+14+14+39+60 = 207; Σqq = 64+0+4+4+0+4+4+16+16+36+64 = 212.
  const r = quant1([-8, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, -3.5, 6.5, -7.5], 4);
  assert.equal(Array.from(r.q), [-8, 0, 2, 2, 0, -2, -2, 4, -4, 6, -8]);
  assert.equal(Array.from(r.scales), [f(207 / 212)]);
});

test('t is (-2^(b-1)*w)/mx, not (-2^(b-1)/mx)*w', () => {
  // Float32 values where the product form gives an exact tie t = ±3.5 (-> ±4), while
  // precomputing s = -8/mx and multiplying gives 3.4999999999999996 (-> 3).
  const mx = -1.1952266693115234;
  const w = 0.5229116678237915;
  assert.is(f(mx), mx);
  assert.is(f(w), w);
  assert.is((-8 * w) / mx, 3.5);
  assert.is.not((-8 / mx) * w, 3.5);
  const r = quant1([mx, w, -w], 4);
  assert.equal(Array.from(r.q), [-8, 4, -4]);
  assert.equal(Array.from(r.scales), [f((mx * -8 + w * 4 + -w * -4) / (64 + 16 + 16))]);
});

test('all-zero block: q = 0, scale 0, never NaN', () => {
  const r = quant1([0, -0, 0], 4);
  assert.equal(Array.from(r.q), [0, 0, 0]);
  assert.ok(Object.is(r.scales[0], 0));
  // Zero blocks next to non-zero ones (B=2): [0,0 | 3, 0].
  const r2 = quant1([0, 0, 3, 0], 4, 2);
  assert.equal(Array.from(r2.q), [0, 0, -8, 0]);
  assert.equal(Array.from(r2.scales), [0, f(3 / -8)]);
  for (const s of r2.scales) assert.ok(!Number.isNaN(s));
});

test('single-element blocks (B=1): q = -2^(b-1), scale = w/q', () => {
  // ξ = (w·-8)/64 = -w/8, exact (division by a power of two).
  const w = [f(0.3), -2.5, 0, f(-1e-40)];
  const r = quant1(w, 4, 1);
  assert.is(r.nBlocks, 4);
  assert.equal(Array.from(r.q), [-8, -8, 0, -8]);
  assert.equal(Array.from(r.scales), [f(-w[0] / 8), 0.3125, 0, f(-w[3] / 8)]);
  // b=2: q = -2, ξ = w/-2
  const r2 = quant1([6], 2, 1);
  assert.equal(Array.from(r2.q), [-2]);
  assert.equal(Array.from(r2.scales), [-3]);
});

test('last short block when C_g is not a multiple of B', () => {
  // C_g=5, B=2: blocks [0,1], [2,3], [4]; nBlocks = 3.
  // block 0: [1, -4], mx=-4, t = 2w = [2, -8]; Σwq = 2+32 = 34, Σqq = 68, ξ = 0.5
  // block 1: [3, 2], mx=3, t = -8w/3 = [-8, -5.333..] -> [-8, -5]; Σwq = -24-10 = -34, Σqq = 89
  // block 2: [-0.25] -> q=-8, ξ = -0.25/-8 = 0.03125
  const r = quant1([1, -4, 3, 2, -0.25], 4, 2);
  assert.is(r.nBlocks, 3);
  assert.equal(Array.from(r.q), [2, -8, -8, -5, -8]);
  assert.equal(Array.from(r.scales), [0.5, f(-34 / 89), 0.03125]);
});

test('bits 2 and 8 (and 3): clamps at 2^(b-1)-1', () => {
  // b=2 (range -2..1), mx=1: t = -2w = [-2, 2, -1, 0.5, -0.5] -> [-2, 1 (clamped), -1, 0, 0]
  // Σwq = -2 - 1 - 0.5 = -3.5, Σqq = 4+1+1 = 6
  let r = quant1([1, -1, 0.5, -0.25, 0.25], 2);
  assert.equal(Array.from(r.q), [-2, 1, -1, 0, 0]);
  assert.equal(Array.from(r.scales), [f(-3.5 / 6)]);
  // b=3 (range -4..3): [2, -2] -> t = [-4, 4] -> [-4, 3]; Σwq = -8-6 = -14, Σqq = 25
  r = quant1([2, -2], 3);
  assert.equal(Array.from(r.q), [-4, 3]);
  assert.equal(Array.from(r.scales), [f(-14 / 25)]);
  // b=8 (range -128..127), mx=-1: t = 128w = [-128, 128 -> 127, 64, 0.5 -> 0, 1.5 -> 2]
  // Σwq = 128 + 127 + 32 + 0 + 6/256 = 287.0234375; Σqq = 16384+16129+4096+0+4 = 36613
  r = quant1([-1, 1, 0.5, 1 / 256, 3 / 256], 8);
  assert.equal(Array.from(r.q), [-128, 127, 64, 0, 2]);
  assert.equal(Array.from(r.scales), [f(287.0234375 / 36613)]);
});

test("scale layout is [C_out][nBlocks][kh][kw] (grouped shape)", () => {
  // O=2, C_g=3, kh=1, kw=2, B=2 -> nBlocks=2 (channels {0,1} and {2}).
  // Every entry of block (o, β, j) equals a = o*4 + β*2 + j + 1 > 0, so all q = -8 and
  // ξ = Σ(a·-8)/Σ64 = -a/8, stored at index ((o*2+β)*1+0)*2+j = a-1.
  const O = 2, Cg = 3, kh = 1, kw = 2, B = 2;
  const w = new Float32Array(O * Cg * kh * kw);
  for (let o = 0; o < O; o++)
    for (let c = 0; c < Cg; c++)
      for (let j = 0; j < kw; j++) w[(o * Cg + c) * kw + j] = o * 4 + Math.floor(c / B) * 2 + j + 1;
  const r = quantizeWeights(w, { outChannels: O, groupChannels: Cg, kh, kw }, 4, B, 'channels');
  assert.is(r.nBlocks, 2);
  assert.ok(r.q.every((v) => v === -8));
  assert.equal(Array.from(r.scales), [1, 2, 3, 4, 5, 6, 7, 8].map((a) => -a / 8));
});

test('taps mode: one scale per output channel over its kh*kw taps', () => {
  // O=2, C_g=1, 2x2 kernel. o=0 taps [0.5, -1, 1, 0.25]: |1| tie, tap 1 (-1) comes first,
  // so mx=-1, t = 8w = [4, -8, 8 -> 7, 2]; Σwq = 2+8+7+0.5 = 17.5, Σqq = 16+64+49+4 = 133.
  // o=1 all zero -> q=0, ξ=0.
  const w = new Float32Array([0.5, -1, 1, 0.25, 0, 0, 0, 0]);
  const r = quantizeWeights(w, { outChannels: 2, groupChannels: 1, kh: 2, kw: 2 }, 4, 32, 'taps');
  assert.is(r.nBlocks, 1);
  assert.equal(Array.from(r.q), [4, -8, 7, 2, 0, 0, 0, 0]);
  assert.equal(Array.from(r.scales), [f(17.5 / 133), 0]);
  // The same depthwise weights in 'channels' mode: one block per weight (scale per tap).
  const c = quantizeWeights(w, { outChannels: 2, groupChannels: 1, kh: 2, kw: 2 }, 4, 32, 'channels');
  assert.is(c.nBlocks, 1);
  assert.is(c.scales.length, 8);
  assert.equal(Array.from(c.q), [-8, -8, -8, -8, 0, 0, 0, 0]);
  assert.equal(Array.from(c.scales), [-0.0625, 0.125, -0.125, -0.03125, 0, 0, 0, 0]);
});

test('errors: taps with groupChannels != 1, length mismatch, bad bits', () => {
  const isRange = (re) => (e) => e instanceof RangeError && re.test(e.message);
  assert.throws(
    () => quantizeWeights(new Float32Array(8), { outChannels: 2, groupChannels: 2, kh: 1, kw: 2 }, 4, 32, 'taps'),
    isRange(/taps/),
  );
  assert.throws(
    () => quantizeWeights(new Float32Array(7), { outChannels: 2, groupChannels: 2, kh: 1, kw: 2 }, 4, 32, 'channels'),
    isRange(/^weights must have length 8 \(OIHW \[2\]\[2\]\[1\]\[2\]\), got 7$/),
  );
  assert.throws(() => quant1([1], 1), isRange(/bits/));
  assert.throws(() => quant1([1], 9), isRange(/bits/));
  assert.throws(() => quant1([1, NaN], 4), isRange(/weights\[1\] is NaN/));
  assert.throws(() => quant1([1], 4, 0), isRange(/blockSize/));
});

test('errors: weights only as a Float32Array, every dimension at least 1, only known shape fields', () => {
  const shape = { outChannels: 2, groupChannels: 2, kh: 1, kw: 2 };
  const w = [0.5, -1, 0.25, 2, 1, 1, -0.5, 0];
  // A plain Array would be read element by element as if it were float32: refused, not converted.
  assert.throws(() => quantizeWeights(w, shape, 4, 32, 'channels'),
    (e) => e instanceof TypeError && e.message === 'weights must be a Float32Array of length 8 (OIHW [2][2][1][2]), got an array of length 8');
  for (const k of Object.keys(shape)) {
    assert.throws(() => quantizeWeights(new Float32Array(0), { ...shape, [k]: 0 }, 4, 32, 'channels'),
      (e) => e instanceof RangeError && e.message.startsWith(`shape.${k} must be an integer in [1, `), `${k}: 0`);
  }
  assert.throws(() => quantizeWeights(new Float32Array(8), { ...shape, kH: 1 }, 4, 32, 'channels'),
    (e) => e instanceof TypeError && e.message === 'shape has an unknown option "kH"; the options are outChannels, groupChannels, kh, kw');
  assert.throws(() => quantizeWeights(new Float32Array(8), null, 4, 32, 'channels'), (e) => e instanceof TypeError && /^shape must be an options object/.test(e.message));
  // The caller's weights are read, not changed.
  const f = new Float32Array(w);
  quantizeWeights(f, shape, 4, 32, 'channels');
  assert.equal(Array.from(f), w);
});

test('random grouped weights: every block obeys the rules', () => {
  const r = rng(7);
  for (const [shape, B, bits] of [
    [{ outChannels: 4, groupChannels: 6, kh: 3, kw: 3 }, 4, 4], // grouped conv, C_g=6, short last block
    [{ outChannels: 3, groupChannels: 40, kh: 1, kw: 1 }, 32, 2],
    [{ outChannels: 5, groupChannels: 8, kh: 2, kw: 3 }, 8, 8],
    [{ outChannels: 2, groupChannels: 3, kh: 3, kw: 3 }, 1, 5],
  ]) {
    const { outChannels: O, groupChannels: Cg, kh, kw } = shape;
    const w = randn(r, O * Cg * kh * kw);
    const res = quantizeWeights(w, shape, bits, B, 'channels');
    const nB = Math.ceil(Cg / B);
    assert.is(res.nBlocks, nB);
    assert.is(res.scales.length, O * nB * kh * kw);
    const lo = -(2 ** (bits - 1));
    for (let o = 0; o < O; o++)
      for (let b = 0; b < nB; b++)
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kw; j++) {
            const idx = [];
            for (let c = b * B; c < Math.min((b + 1) * B, Cg); c++) idx.push(((o * Cg + c) * kh + i) * kw + j);
            let best = idx[0];
            for (const k of idx) if (Math.abs(w[k]) > Math.abs(w[best])) best = k;
            assert.is(res.q[best], lo, 'max entry maps to -2^(b-1)');
            let num = 0, den = 0;
            for (const k of idx) {
              assert.ok(res.q[k] >= lo && res.q[k] <= -lo - 1);
              num += w[k] * res.q[k];
              den += res.q[k] * res.q[k];
            }
            const xi = res.scales[((o * nB + b) * kh + i) * kw + j];
            assert.is(xi, f(num / den));
            assert.ok(Math.sign(xi) === -Math.sign(w[best]));
          }
  }
});

test('packedWeightBytes', () => {
  assert.is(packedWeightBytes(5, 4), 3);
  assert.is(packedWeightBytes(4, 2), 2);
  assert.is(packedWeightBytes(1, 3), 1);
  assert.is(packedWeightBytes(0, 4), 0);
  assert.is(packedWeightBytes(5, 5), 5);
  assert.is(packedWeightBytes(5, 8), 5);
});

test('packInts layout: low nibble first, two\'s complement', () => {
  // 1 -> 0x1, -1 -> 0xF: byte 0 = 0xF1; -8 -> 0x8, 7 -> 0x7: byte 1 = 0x78; 3 alone: 0x03.
  assert.equal(Array.from(packInts(new Int8Array([1, -1, -8, 7, 3]), 4)), [0xf1, 0x78, 0x03]);
  // b=2 uses the same nibble layout: -2 -> 0xE, 1 -> 0x1.
  assert.equal(Array.from(packInts(new Int8Array([-2, 1]), 2)), [0x1e]);
  assert.equal(Array.from(packInts(new Int8Array([-128, 127, -1]), 8)), [0x80, 0x7f, 0xff]);
  assert.equal(Array.from(unpackInts(new Uint8Array([0xf1, 0x78, 0x03]), 5, 4)), [1, -1, -8, 7, 3]);
  assert.throws(() => packInts(new Int8Array([2]), 2), (e) => e instanceof RangeError);
  assert.throws(() => unpackInts(new Uint8Array(2), 5, 4), (e) => e instanceof RangeError);
});

test('pack/unpack round trip for bits 2..8 on random data', () => {
  const r = rng(42);
  for (let bits = 2; bits <= 8; bits++) {
    const lo = -(2 ** (bits - 1));
    const span = 2 ** bits;
    for (const n of [0, 1, 2, 7, 64, 1001]) {
      const q = new Int8Array(n);
      for (let k = 0; k < n; k++) q[k] = lo + Math.floor(r.uniform() * span);
      const bytes = packInts(q, bits);
      assert.is(bytes.length, packedWeightBytes(n, bits));
      assert.equal(Array.from(unpackInts(bytes, n, bits)), Array.from(q), `bits ${bits}, n ${n}`);
    }
  }
});

test('quantized weights pack and unpack losslessly', () => {
  const r = rng(3);
  const shape = { outChannels: 4, groupChannels: 16, kh: 3, kw: 3 };
  const w = randn(r, 4 * 16 * 9);
  for (let bits = 2; bits <= 8; bits++) {
    const { q } = quantizeWeights(w, shape, bits, 8, 'channels');
    assert.equal(Array.from(unpackInts(packInts(q, bits), q.length, bits)), Array.from(q));
  }
});

test.run();
