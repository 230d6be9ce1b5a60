// Calibration's factorisation through the wasm kernels (f64_cholesky_4x4, then
// f64_cholesky_inverse_4x4): the lower Cholesky factor of an SPD matrix, and GPTQ's U with
// (H + λI)⁻¹ = UᵀU. The matrix is packed into the kernels' row panels (abi.ts, CholeskyParam),
// padded to a multiple of 4 with the identity (whose factor and inverse are the identity again, so
// the kernels have no edges), and passes through the conv scratch buffers, so the heap keeps no
// matrix once a call is done. Threads split each block of columns' rows below its diagonal, and
// the inverse's columns (independent of each other); every entry's sum is the same either way.
import { CholeskyParam } from './abi.js';
import { rt, type Runtime } from './runtime.js';

/** Columns per phase of a split factor: the block's own rows run first, on one thread. */
const SPLIT_BLOCK = 128;

/** Scratch for the panels of an n x n matrix, their padding set to the identity; `x` the inverse's room, `u` its output. */
function panels(r: Runtime, n: number, inverse: boolean, ownOutput: boolean): { l: number; x: number; u: number; N: number; P: Float64Array } {
  const N = (n + 3) & ~3, bytes = N * N * 8;
  const l = r.scratch.input.ensure(bytes);
  const x = inverse ? r.scratch.output.ensure(bytes) : 0;
  const u = ownOutput ? r.scratch.image.ensure(n * n * 8) : l;
  const P = new Float64Array(r.k.memory.buffer, l, N * N); // after every ensure: growing detaches views
  for (let i = n; i < N; i++) {
    const row = (i >> 2) * 4 * N + (i & 3);
    for (let k = 0; k <= i; k++) P[row + 4 * k] = i === k ? 1 : 0;
  }
  return { l, x, u, N, P };
}

/** One call's record: the factor's panels at l, columns [j0, j1), rows [r0, r1). */
function record(p: Int32Array, l: number, n: number, j0: number, j1: number, r0: number, r1: number): void {
  p[CholeskyParam.l] = l; p[CholeskyParam.n] = n;
  p[CholeskyParam.j0] = j0; p[CholeskyParam.j1] = j1; p[CholeskyParam.r0] = r0; p[CholeskyParam.r1] = r1;
}

/** Runs f64_cholesky_4x4 over the panels at l; false when the matrix is not positive definite. */
function factor(r: Runtime, l: number, n: number): boolean {
  const N = (n + 3) & ~3;
  const whole = r.sharesFor((N * N * N) / 6) === 1;
  for (let jb = 0; jb < N; jb += whole ? N : SPLIT_BLOCK) {
    const je = whole ? N : Math.min(N, jb + SPLIT_BLOCK), below = (N - je) / 4;
    const shares = below === 0 ? 1 : Math.min(below, r.sharesFor(((N - je) * (je - jb) * (jb + je)) / 2));
    const job = r.job(shares);
    // The block's own rows (all rows when unsplit), then the rows below it in runs of panels.
    let s = job.share(0);
    record(s.record(CholeskyParam.count), l, n, jb, je, jb, whole ? N : je);
    s.call('f64_cholesky_4x4', s.ptr);
    job.barrier();
    for (let t = 0; t < shares && !whole; t++) {
      s = job.share(t);
      record(s.record(CholeskyParam.count), l, n, jb, je, je + 4 * Math.floor((below * t) / shares), je + 4 * Math.floor((below * (t + 1)) / shares));
      s.call('f64_cholesky_4x4', s.ptr);
    }
    if (job.finish() !== 0) return false;
  }
  return true;
}

/**
 * Lower Cholesky factor of the symmetric positive definite n x n matrix A (row-major; its lower
 * triangle is read), row-major with zeros above the diagonal; null if A is not SPD (a pivot ≤ 0
 * or NaN).
 */
export function choleskyLower(A: Float64Array, n: number): Float64Array | null {
  if (!Number.isInteger(n) || n < 0 || A.length !== n * n) throw new Error(`dsconv internal: choleskyLower of order ${n} on ${A.length} values`);
  const L = new Float64Array(n * n);
  if (n === 0) return L;
  const r = rt();
  const { l, N, P } = panels(r, n, false, false);
  for (let i = 0; i < n; i++) {
    const row = (i >> 2) * 4 * N + (i & 3);
    for (let k = 0; k <= i; k++) P[row + 4 * k] = A[i * n + k];
  }
  if (!factor(r, l, n)) return null;
  const F = new Float64Array(r.k.memory.buffer, l, N * N);
  for (let i = 0; i < n; i++) {
    const row = (i >> 2) * 4 * N + (i & 3);
    for (let k = 0; k <= i; k++) L[i * n + k] = F[row + 4 * k];
  }
  return L;
}

/**
 * U upper triangular with (H + damp·I)⁻¹ = UᵀU, n x n row-major, for the n x n matrix at `h0` of
 * H (its upper triangle is read); null if H + damp·I is not SPD. With J the reversal, J H J = L Lᵀ
 * gives H = R Rᵀ for the upper R = J L J, so U = R⁻¹ = J L⁻¹ J: one Cholesky, one triangular
 * inverse, as upperCholeskyOfInverseTwin (src/reference/kernels.ts) computes them.
 */
export function upperCholeskyOfInverse(H: Float64Array, h0: number, n: number, damp: number): Float64Array | null {
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(h0) || h0 < 0 || h0 + n * n > H.length) {
    throw new Error(`dsconv internal: upperCholeskyOfInverse of order ${n} at ${h0} in ${H.length} values`);
  }
  if (n === 0) return new Float64Array(0);
  const r = rt();
  const groups = Math.ceil(n / 4);
  const shares = Math.min(groups, r.sharesFor((n * n * n) / 6));
  // Split, U cannot overwrite L: another thread may still be reading it.
  const { l, x, u, N, P } = panels(r, n, true, shares > 1);
  // (J H J)[i][k] = H[n-1-i][n-1-k]. (The twin adds 0 off the diagonal too, turning -0 into +0; a
  // zero's sign in L never reaches U, whose sums all start at +0.)
  const last = h0 + n * n - 1;
  for (let i = 0; i < n; i++) {
    const row = (i >> 2) * 4 * N + (i & 3), h = last - i * n;
    for (let k = 0; k < i; k++) P[row + 4 * k] = H[h - k];
    P[row + 4 * i] = H[h - i] + damp;
  }
  if (!factor(r, l, n)) return null;
  // Column c of L⁻¹ costs about (N - c)²: each share gets an equal part of Σ (N - c)².
  const cut = (t: number) => (t === shares ? N : 4 * Math.round((N / 4) * (1 - Math.cbrt(1 - t / shares))));
  const job = r.job(shares);
  for (let t = 0; t < shares; t++) {
    const s = job.share(t);
    const p = s.record(CholeskyParam.count);
    record(p, l, n, cut(t), cut(t + 1), 0, 0);
    p[CholeskyParam.x] = x; p[CholeskyParam.u] = u;
    s.call('f64_cholesky_inverse_4x4', s.ptr);
  }
  job.finish();
  return new Float64Array(r.k.memory.buffer, u, n * n).slice();
}
