// The kernels of calibration's moments against their scalar twins, bit for bit: f64_gemm_4x4 (the
// Gram sums: every edge of the 4x4 tiles, groups, the upper-triangle form, sums in slices) and
// f64_quadform_4x4 (the scale refit's block moments, on the column layouts of real convs) and
// f64_rank_update_4x4 (the rounding's block update, on every tile edge), each also split over threads. Inputs have spread exponents, so a sum taken in another order would differ.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { init } from 'dsconv';
import { gemmPanelsTwin, quadformTwin, rankUpdateTwin } from 'dsconv/reference';
import { gemmPanels, panelsLength, panelIndex, slicePanels, blockQuadforms, RoundingBuffers } from '../../dist/core/internal.js';
import { layerDims } from '../../dist/tfjs/calibrate/dims.js';
import { rng, onSplittingThreads } from '../util.js';

await init();
const R = rng(77);

/** Panels of float32 values with exponents over ±12 octaves, zero past the variables as the layout requires. */
function panels(groups, rows, len) {
  const P = new Float64Array(panelsLength(groups, rows, len));
  for (let g = 0; g < groups; g++) for (let r = 0; r < rows; r++) for (let s = 0; s < len; s++) {
    P[panelIndex(g, r, s, rows, len)] = Math.fround(R.normal() * 2 ** Math.round(R.normal() * 4));
  }
  return P;
}
const start = (n) => Float64Array.from({ length: n }, () => R.normal() * 100);
const bits = (x) => new BigUint64Array(x.buffer, x.byteOffset, x.length);

function same(got, want, what) {
  const a = bits(got), b = bits(want);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) assert.unreachable(`${what}: entry ${i} is ${got[i]}, the twin's ${want[i]}`);
  }
}

const SHAPES = [];
for (const m of [1, 3, 4, 5, 8, 11]) for (const n of [1, 2, 4, 6, 9]) SHAPES.push({ groups: 1, m, n, len: 7 });
SHAPES.push({ groups: 3, m: 5, n: 7, len: 13 }, { groups: 2, m: 8, n: 16, len: 1 }, { groups: 1, m: 13, n: 40, len: 33 }, { groups: 5, m: 1, n: 9, len: 20 });

test('C += AᵀB matches the twin bit for bit on every tile edge and with groups', () => {
  for (const { groups, m, n, len } of SHAPES) {
    const A = panels(groups, m, len), B = panels(groups, n, len), C = start(groups * m * n);
    const want = C.slice();
    gemmPanelsTwin(want, A, B, groups, m, n, len);
    const A0 = A.slice(), B0 = B.slice();
    gemmPanels(C, A, B, groups, m, n, len);
    same(C, want, `groups ${groups}, ${m} x ${n}, ${len} samples`);
    same(A, A0, 'A unchanged');
    same(B, B0, 'B unchanged');
  }
});

test('the Gram form sums the upper tiles only, bit for bit, and leaves the rest', () => {
  for (const [groups, n, len] of [[1, 1, 5], [1, 4, 9], [1, 7, 3], [2, 10, 17], [1, 37, 25]]) {
    const X = panels(groups, n, len), C = start(groups * n * n);
    const want = C.slice();
    gemmPanelsTwin(want, X, null, groups, n, n, len);
    gemmPanels(C, X, null, groups, n, n, len);
    same(C, want, `Gram of ${groups} x ${n} over ${len}`);
    // Summing in two slices of samples gives the same sums as in one.
    const whole = start(groups * n * n), halves = whole.slice();
    gemmPanels(whole, X, null, groups, n, n, len);
    const cut = len >> 1;
    gemmPanels(halves, slicePanels(X, len, 0, cut), null, groups, n, n, cut);
    gemmPanels(halves, slicePanels(X, len, cut, len), null, groups, n, n, len - cut);
    same(halves, whole, `Gram of ${groups} x ${n} in two slices`);
  }
});

test('operands of the wrong size are an internal error, not a wasm trap', () => {
  assert.throws(() => gemmPanels(new Float64Array(6), new Float64Array(12), new Float64Array(16), 1, 2, 3, 4), /dsconv internal: gemmPanels/);
  assert.throws(() => gemmPanels(new Float64Array(5), new Float64Array(16), new Float64Array(16), 1, 2, 3, 4), /dsconv internal: gemmPanels/);
  assert.throws(() => gemmPanels(new Float64Array(6), new Float64Array(16), null, 1, 2, 3, 4), /a Gram sum of 2 by 3/);
  assert.throws(() => blockQuadforms(new Float64Array(9), new Float64Array(5), new Int32Array([0, 3, 0]), new Int32Array(3), 2, 3, 1, 2), /dsconv internal: blockQuadforms/);
});

/** A symmetric [groups][D][D] matrix (both triangles the same bits) and integers [C][D] as float64. */
function quadformOperands(groups, C, D, bits) {
  const H = new Float64Array(groups * D * D);
  for (let g = 0; g < groups; g++) for (let i = 0; i < D; i++) for (let j = i; j < D; j++) {
    H[(g * D + i) * D + j] = H[(g * D + j) * D + i] = R.normal() * 2 ** Math.round(R.normal() * 6);
  }
  const half = 2 ** (bits - 1);
  const Q = Float64Array.from({ length: C * D }, () => Math.floor(R.uniform() * 2 * half) - half);
  return { H, Q };
}

/** Convs whose column layouts reach every case: blocks shorter than a group, tap-major 3x3, depthwise per tap and per channel, rows not a multiple of 8. */
const CONVS = [
  { name: '1x1, 40 inputs in blocks of 16', o: { inChannels: 40, outChannels: 7, kernelSize: [1, 1] }, s: { blockSize: 16 } },
  { name: '3x3, 5 inputs in blocks of 2', o: { inChannels: 5, outChannels: 9, kernelSize: [3, 3] }, s: { blockSize: 2 } },
  { name: '3x1, 8 inputs, one block', o: { inChannels: 8, outChannels: 3, kernelSize: [3, 1] }, s: { blockSize: 32 } },
  { name: 'grouped 1x1, 3 groups of 12', o: { inChannels: 36, outChannels: 6, kernelSize: [1, 1], groups: 3 }, s: { blockSize: 5 } },
  { name: 'depthwise 3x3 taps', o: { inChannels: 11, outChannels: 11, kernelSize: [3, 3], groups: 11 }, s: { blockSize: 32, depthwiseBlocks: 'taps' } },
  { name: 'depthwise 5x5 channels', o: { inChannels: 4, outChannels: 4, kernelSize: [5, 5], groups: 4 }, s: { blockSize: 32, depthwiseBlocks: 'channels' } },
];

test('the block moments qᵀHq match the twin bit for bit on the column layouts of real convs', () => {
  for (const c of CONVS) {
    const d = layerDims(c.o, { bits: 4, mantissaBits: 8, depthwiseBlocks: 'channels', ...c.s });
    const { H, Q } = quadformOperands(d.groups, d.C, d.D, 4);
    const H0 = H.slice(), Q0 = Q.slice();
    const got = blockQuadforms(H, Q, d.runs, d.scaleOf, d.C, d.D, d.K, d.Og);
    same(got, quadformTwin(H, Q, d.runs, d.scaleOf, d.C, d.D, d.K, d.Og), `${c.name} (D ${d.D}, K ${d.K})`);
    same(H, H0, 'H unchanged');
    same(Q, Q0, 'Q unchanged');
  }
});

/** The rounding's block update through RoundingBuffers against its twin, on the same random W, E, U. */
function rankUpdateCase(rows, d, block, j0, nb, j1, what) {
  const W = Float64Array.from({ length: rows * d }, () => R.normal() * 2 ** Math.round(R.normal() * 3));
  const E = Float64Array.from({ length: rows * block }, () => R.normal());
  const U = Float64Array.from({ length: d * d }, () => R.normal());
  const b = new RoundingBuffers(rows, d, block);
  b.W.set(W); b.E.set(E); b.U.set(U);
  b.update(j0, nb, j1);
  rankUpdateTwin(W, E, U, rows, d, block, j0, nb, j1);
  same(b.W, W, what);
}

test('the block update of the rounding matches the twin bit for bit on every tile edge', () => {
  for (const rows of [1, 3, 4, 6, 9]) {
    for (const [d, j0, nb, j1] of [[5, 0, 2, 2], [40, 0, 32, 32], [47, 32, 7, 39], [70, 32, 32, 64], [9, 0, 4, 4]]) {
      rankUpdateCase(rows, d, 32, j0, nb, j1, `${rows} rows, d ${d}, columns ${j0}+${nb} onto ${j1}..`);
    }
  }
});

test('split over threads, every kernel gives the same bits', async () => {
  await onSplittingThreads(2, (r) => {
    assert.is(r.threads, 2, 'two threads');
    for (const [groups, m, n, len] of [[1, 21, 21, 30], [3, 9, 14, 11], [1, 2, 50, 8]]) {
      const A = panels(groups, m, len), B = panels(groups, n, len);
      for (const gram of [false, true]) {
        if (gram && m !== n) continue;
        const C = start(groups * m * n), want = C.slice();
        gemmPanelsTwin(want, A, gram ? null : B, groups, m, n, len);
        gemmPanels(C, A, gram ? null : B, groups, m, n, len);
        same(C, want, `${gram ? 'Gram' : 'product'} ${groups} x ${m} x ${n} on 2 threads`);
      }
    }
    for (const c of CONVS) {
      const d = layerDims(c.o, { bits: 8, mantissaBits: 8, depthwiseBlocks: 'channels', ...c.s });
      const { H, Q } = quadformOperands(d.groups, d.C, d.D, 8);
      same(blockQuadforms(H, Q, d.runs, d.scaleOf, d.C, d.D, d.K, d.Og), quadformTwin(H, Q, d.runs, d.scaleOf, d.C, d.D, d.K, d.Og), `${c.name} on 2 threads`);
    }
    for (const rows of [2, 9, 17]) rankUpdateCase(rows, 70, 32, 32, 32, 64, `block update of ${rows} rows on 2 threads`);
  });
});

test.run();
