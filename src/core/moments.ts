// The float64 kernels of calibration's fits, split over the runtime's threads: the Gram sums
// Σ x̂x̂ᵀ and Σ t·x̂ᵀ (f64_gemm_4x4, on the kernel's panels: abi.ts, GemmParam), the block
// quadratic forms qᵀHq of the scale refit (f64_quadform_4x4) and the rounding's lazy block update
// (f64_rank_update_4x4). The matrices live in the caller's Float64Arrays and pass through the
// conv scratch buffers for a call (or, for the rounding, one group), so the heap keeps none of
// them once calibration is done.
import { GemmParam, QuadformParam, UpdateParam } from './abi.js';
import { rt } from './runtime.js';

/** Length of the panels of `groups` matrices of `rows` variables over `len` samples. */
export function panelsLength(groups: number, rows: number, len: number): number {
  return groups * Math.ceil(rows / 4) * len * 4;
}

/** Index of variable r of group g at sample s in those panels. */
export function panelIndex(g: number, r: number, s: number, rows: number, len: number): number {
  return ((g * Math.ceil(rows / 4) + (r >> 2)) * len + s) * 4 + (r & 3);
}

/** Samples [a, b) of panels P over S samples: the same variables over b - a samples. */
export function slicePanels(P: Float64Array, S: number, a: number, b: number): Float64Array {
  const panels = P.length / (4 * S), out = new Float64Array(panels * (b - a) * 4);
  for (let p = 0; p < panels; p++) out.set(P.subarray((p * S + a) * 4, (p * S + b) * 4), p * (b - a) * 4);
  return out;
}

/**
 * C[g] += A[g]ᵀ·B[g] for each group g: C is [groups][m][n], A the panels of m variables and B of
 * n, over `len` samples each. With B null, B is A (n = m) and only the upper triangle of each
 * C[g] is summed (with the lower halves of its diagonal 4x4 tiles). Each entry adds its products
 * in sample order onto its previous value.
 */
export function gemmPanels(C: Float64Array, A: Float64Array, B: Float64Array | null, groups: number, m: number, n: number, len: number): void {
  const upper = B === null;
  if (upper && n !== m) throw new Error(`dsconv internal: a Gram sum of ${m} by ${n} variables`);
  if (C.length !== groups * m * n || A.length !== panelsLength(groups, m, len) || (B && B.length !== panelsLength(groups, n, len))) {
    throw new Error(`dsconv internal: gemmPanels over ${groups} groups of ${m} x ${n} and ${len} samples with operands of ${C.length}, ${A.length} and ${B?.length} values`);
  }
  if (len === 0 || C.length === 0) return;
  const r = rt();
  const s = r.scratch;
  const aPtr = s.input.ensure(A.byteLength);
  const bPtr = B ? s.image.ensure(B.byteLength) : aPtr;
  const cPtr = s.output.ensure(C.byteLength);
  const mem = r.k.memory.buffer; // after every ensure: growing memory detaches earlier views
  new Float64Array(mem, aPtr, A.length).set(A);
  if (B) new Float64Array(mem, bPtr, B.length).set(B);
  new Float64Array(mem, cPtr, C.length).set(C);
  // Units of work: one row panel of one group; on the diagonal, a row panel has fewer tiles.
  const mp = Math.ceil(m / 4), np = Math.ceil(n / 4), units = groups * mp;
  const tiles = (u: number) => (upper ? np - (u % mp) : np);
  const total = upper ? groups * ((mp * (mp + 1)) / 2) : units * np;
  const shares = Math.min(units, r.sharesFor(total * 16 * len));
  const job = r.job(shares);
  let u0 = 0;
  let done = 0;
  for (let t = 0; t < shares; t++) {
    // Contiguous units, cut where the tiles so far pass the share's part of the total.
    let u1 = u0;
    const goal = (total * (t + 1)) / shares;
    while (u1 < units && (t === shares - 1 || done + tiles(u1) / 2 <= goal)) done += tiles(u1++);
    const x = job.share(t);
    const p = x.record(GemmParam.count);
    p[GemmParam.a] = aPtr; p[GemmParam.b] = bPtr; p[GemmParam.c] = cPtr;
    p[GemmParam.len] = len; p[GemmParam.m] = m; p[GemmParam.n] = n;
    p[GemmParam.u0] = u0; p[GemmParam.u1] = u1; p[GemmParam.upper] = upper ? 1 : 0;
    x.call('f64_gemm_4x4', x.ptr);
    u0 = u1;
  }
  job.finish();
  C.set(new Float64Array(r.k.memory.buffer, cPtr, C.length));
}

/**
 * Per output channel o of C: G_o[a][b] = Σ_(i in block a, j in block b) q_oi·H_ij·q_oj, K x K,
 * written whole into [C][K][K]. H is [groups][D][D] (both triangles), channel o reading group
 * ⌊o/og⌋; Q [C][D] the integers in H's column order; `runs` [start, end, scale] triples, one per
 * scale, and `scaleOf` each column's scale. Each sum in the order of quadformTwin
 * (src/reference/kernels.ts).
 */
export function blockQuadforms(H: Float64Array, Q: Float64Array, runs: Int32Array, scaleOf: Int32Array, C: number, D: number, K: number, og: number): Float64Array {
  if (Q.length !== C * D || H.length !== (C / og) * D * D || scaleOf.length !== D || runs.length % 3 !== 0) {
    throw new Error(`dsconv internal: blockQuadforms over ${C} channels of ${D} columns with operands of ${H.length}, ${Q.length}, ${scaleOf.length} and ${runs.length} values`);
  }
  const G = new Float64Array(C * K * K);
  if (G.length === 0) return G;
  const r = rt();
  const s = r.scratch;
  const hPtr = s.output.ensure(H.byteLength);
  const qPtr = s.input.ensure(Q.byteLength);
  const runsPtr = s.scale.ensure(runs.byteLength + scaleOf.byteLength);
  const gPtr = s.acc.ensure(G.byteLength);
  const mem = r.k.memory.buffer; // after every ensure: growing memory detaches earlier views
  new Float64Array(mem, hPtr, H.length).set(H);
  new Float64Array(mem, qPtr, Q.length).set(Q);
  new Int32Array(mem, runsPtr, runs.length).set(runs);
  new Int32Array(mem, runsPtr + runs.byteLength, D).set(scaleOf);
  const shares = Math.min(C, r.sharesFor(C * D * D));
  const job = r.job(shares);
  for (let t = 0; t < shares; t++) {
    const x = job.share(t);
    const p = x.record(QuadformParam.count);
    p[QuadformParam.h] = hPtr; p[QuadformParam.q] = qPtr; p[QuadformParam.runs] = runsPtr; p[QuadformParam.nRuns] = runs.length / 3;
    p[QuadformParam.scaleOf] = runsPtr + runs.byteLength; p[QuadformParam.d] = D; p[QuadformParam.k] = K; p[QuadformParam.og] = og;
    p[QuadformParam.g] = gPtr; p[QuadformParam.c0] = Math.floor((C * t) / shares); p[QuadformParam.c1] = Math.floor((C * (t + 1)) / shares);
    x.call('f64_quadform_4x4', x.ptr);
  }
  job.finish();
  G.set(new Float64Array(r.k.memory.buffer, gPtr, G.length));
  return G;
}

/**
 * GPTQ's rounding of one group in wasm memory: W (rows x d, the weights being rounded), E
 * (rows x block, the block's scaled errors) and U (d x d, the factor) are views there, valid
 * until the next call that allocates wasm memory; the caller works on them in place between
 * update() calls.
 */
export class RoundingBuffers {
  readonly W: Float64Array;
  readonly E: Float64Array;
  readonly U: Float64Array;
  private readonly ptrs: [number, number, number];

  constructor(readonly rows: number, readonly d: number, readonly block: number) {
    const r = rt();
    this.ptrs = [r.scratch.input.ensure(rows * d * 8), r.scratch.mant.ensure(rows * block * 8), r.scratch.output.ensure(d * d * 8)];
    const mem = r.k.memory.buffer; // after every ensure: growing memory detaches earlier views
    this.W = new Float64Array(mem, this.ptrs[0], rows * d);
    this.E = new Float64Array(mem, this.ptrs[1], rows * block);
    this.U = new Float64Array(mem, this.ptrs[2], d * d);
  }

  /** W[r][m] −= Σ_b E[r][b]·U[j0+b][m] for every row, m ≥ j1, b ascending in [0, nb). */
  update(j0: number, nb: number, j1: number): void {
    const r = rt();
    const shares = Math.min(this.rows, r.sharesFor(this.rows * (this.d - j1) * nb));
    const job = r.job(shares);
    for (let t = 0; t < shares; t++) {
      const x = job.share(t);
      const p = x.record(UpdateParam.count);
      p[UpdateParam.w] = this.ptrs[0]; p[UpdateParam.e] = this.ptrs[1]; p[UpdateParam.u] = this.ptrs[2];
      p[UpdateParam.d] = this.d; p[UpdateParam.eStride] = this.block;
      p[UpdateParam.j0] = j0; p[UpdateParam.nb] = nb; p[UpdateParam.j1] = j1;
      // Row runs of whole tiles of 4, so each share's rows keep the unsplit call's tiling.
      p[UpdateParam.r0] = 4 * Math.floor((this.rows * t) / shares / 4); p[UpdateParam.r1] = t === shares - 1 ? this.rows : 4 * Math.floor((this.rows * (t + 1)) / shares / 4);
      x.call('f64_rank_update_4x4', x.ptr);
    }
    job.finish();
  }
}
