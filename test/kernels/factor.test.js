// Calibration's factorisation kernels against their scalar twins, bit for bit: f64_cholesky_4x4
// (the lower factor, choleskyLower) and f64_cholesky_inverse_4x4 after it (GPTQ's U,
// upperCholeskyOfInverse), on every order 1..70 (each edge of the 4x4 tiles and of the 32-column
// blocks, once and twice over) and one large, unsplit and on 2 threads; matrices that are not
// positive definite give null.
// Entries have spread exponents, so a sum taken in another order would differ.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { init } from 'dsconv';
import { choleskyTwin, upperCholeskyOfInverseTwin } from 'dsconv/reference';
import { choleskyLower, upperCholeskyOfInverse } from '../../dist/core/internal.js';
import { rng, onSplittingThreads } from '../util.js';

await init();
const R = rng(91);

/** B Bᵀ + I/2 for B n x n with entries over ±8 octaves: symmetric (both triangles the same bits), positive definite. */
function spd(n) {
  const B = Float64Array.from({ length: n * n }, () => R.normal() * 2 ** Math.round(R.normal() * 3));
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = i === j ? 0.5 : 0;
      for (let k = 0; k < n; k++) s += B[i * n + k] * B[j * n + k];
      A[i * n + j] = A[j * n + i] = s;
    }
  }
  return A;
}

const bits = (x) => new BigUint64Array(x.buffer, x.byteOffset, x.length);

function same(got, want, what) {
  assert.ok(got !== null, `${what}: null where the twin factors`);
  assert.is(got.length, want.length, `${what}: length`);
  const a = bits(got), b = bits(want);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) assert.unreachable(`${what}: entry ${i} is ${got[i]}, the twin's ${want[i]}`);
  }
}

/** The n x n matrix A as the second of two groups of H, the first filled with NaN (it must not be read). */
function inGroups(A, n) {
  const H = new Float64Array(2 * n * n).fill(NaN);
  H.set(A, n * n);
  return H;
}

const ORDERS = [...Array.from({ length: 70 }, (_, i) => i + 1), 600];

test('the lower factor matches the twin bit for bit on every tile and block edge', () => {
  for (const n of ORDERS) {
    const A = spd(n), A0 = A.slice();
    same(choleskyLower(A, n), choleskyTwin((i, j) => A[i * n + j], n), `order ${n}`);
    same(A, A0, `order ${n}: A unchanged`);
  }
});

test('U of the damped inverse matches the twin bit for bit, and H is left as it was', () => {
  for (const n of ORDERS) {
    const H = inGroups(spd(n), n), H0 = H.slice(), damp = 0.01 * R.uniform();
    same(upperCholeskyOfInverse(H, n * n, n, damp), upperCholeskyOfInverseTwin(H, n * n, n, damp), `order ${n}`);
    same(H, H0, `order ${n}: H unchanged`);
  }
});

test('U is the factor it claims: UᵀU (H + damp·I) is the identity', () => {
  const n = 37, A = spd(n), damp = 0.25, U = upperCholeskyOfInverse(A, 0, n, damp);
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) assert.is(U[i * n + j], 0, `U[${i}][${j}] below the diagonal`);
  // M = UᵀU, then M (A + damp·I) within float64's error on these condition numbers.
  const M = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += U[k * n + i] * U[k * n + j];
    M[i * n + j] = s;
  }
  let worst = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += M[i * n + k] * (A[k * n + j] + (k === j ? damp : 0));
    worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
  }
  assert.ok(worst < 1e-6, `UᵀU(H + damp·I) is off the identity by ${worst}`);
});

test('a matrix that is not positive definite gives null, as in the twin', () => {
  for (const [n, at, value] of [[1, 0, 0], [1, 0, -2], [3, 2, -1e9], [8, 5, NaN], [9, 8, 0], [33, 32, -1e12], [70, 40, NaN], [70, 69, -1e15]]) {
    const A = spd(n);
    A[at * n + at] = value;
    assert.is(choleskyTwin((i, j) => A[i * n + j], n), null, `the twin factors order ${n} with ${value} at ${at}`);
    assert.is(choleskyLower(A, n), null, `order ${n} with ${value} on the diagonal at ${at}`);
    // H's reversal puts diagonal entry `at` at n-1-at of the factored matrix.
    assert.is(upperCholeskyOfInverse(A, 0, n, 0), null, `U of order ${n} with ${value} on the diagonal at ${at}`);
  }
  // An off-diagonal NaN poisons the pivot after it.
  const n = 12, A = spd(n);
  A[7 * n + 3] = A[3 * n + 7] = NaN;
  assert.is(choleskyLower(A, n), null, 'a NaN below the diagonal');
  assert.is(upperCholeskyOfInverse(A, 0, n, 1), null, 'a NaN above the diagonal of H');
  // The same matrix, damped enough, factors: the damp is on the diagonal.
  const S = spd(5);
  S[2 * 5 + 2] = -1;
  assert.is(upperCholeskyOfInverse(S, 0, 5, 0), null, 'undamped');
  same(upperCholeskyOfInverse(S, 0, 5, 1e6), upperCholeskyOfInverseTwin(S, 0, 5, 1e6), 'damped');
});

test('order 0 and operands of the wrong size', () => {
  assert.is(choleskyLower(new Float64Array(0), 0).length, 0);
  assert.is(upperCholeskyOfInverse(new Float64Array(0), 0, 0, 1).length, 0);
  assert.throws(() => choleskyLower(new Float64Array(8), 3), /dsconv internal: choleskyLower of order 3 on 8 values/);
  assert.throws(() => upperCholeskyOfInverse(new Float64Array(9), 1, 3, 0), /dsconv internal: upperCholeskyOfInverse of order 3 at 1 in 9 values/);
});

test('split over 2 threads, the same bits, and null where not positive definite', async () => {
  await onSplittingThreads(2, (r) => {
    assert.is(r.threads, 2, 'two threads');
    // Past 128 columns the factor runs in phases; every order splits the inverse's columns.
    for (const n of [2, 5, 37, 128, 130, 259, 600]) {
      const A = spd(n), H = inGroups(A, n), damp = 0.01 * R.uniform();
      same(choleskyLower(A, n), choleskyTwin((i, j) => A[i * n + j], n), `order ${n} on 2 threads`);
      same(upperCholeskyOfInverse(H, n * n, n, damp), upperCholeskyOfInverseTwin(H, n * n, n, damp), `U of order ${n} on 2 threads`);
    }
    for (const [n, at] of [[9, 3], [300, 20], [300, 200], [300, 299]]) {
      const A = spd(n);
      A[at * n + at] = -1e15;
      assert.is(choleskyLower(A, n), null, `order ${n} with a negative pivot at ${at} on 2 threads`);
    }
  });
});

test.run();
