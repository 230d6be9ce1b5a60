// Scalar twins of the conv micro-kernels, for the kernel-table tests: the same sums the wasm
// computes, in the same order and with the same float32 roundings, so a kernel must match its
// twin bit for bit. (dsconvReference and conv2dReference in oracles.ts are the float64 meaning of
// a layer; these are what a particular kernel is allowed to compute for it.)
import type { BlockMode } from '../core/options.js';
import { type ConvGeometry, bfpReference, outputSize } from './oracles.js';

const f = Math.fround;

/** A conv on one NHWC image (the references' geometry with batch 1), padding explicit. */
export type TwinGeometry = Omit<ConvGeometry, 'batch'>;

/** [outHeight, outWidth]. */
function outSize(g: TwinGeometry): [number, number] {
  return outputSize({ ...g, batch: 1 });
}

/**
 * Calls `each(p, o, tap, x)` for every output pixel p, output channel o and tap in order, with x
 * the input pixel index the tap reads (-1 in the padding).
 */
function walk(g: TwinGeometry, each: (p: number, o: number, tap: number, x: number) => void): void {
  const [oh, ow] = outSize(g);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      for (let o = 0; o < g.outChannels; o++) {
        for (let i = 0; i < g.kh; i++) {
          for (let j = 0; j < g.kw; j++) {
            const y = oy * g.stride[0] - g.padding[0] + i * g.dilation[0];
            const x = ox * g.stride[1] - g.padding[1] + j * g.dilation[1];
            const inside = y >= 0 && y < g.height && x >= 0 && x < g.width;
            each(oy * ow + ox, o, i * g.kw + j, inside ? y * g.width + x : -1);
          }
        }
      }
    }
  }
}

/**
 * Twin of f32_igemm_4x8 and f32_dwconv_1x16 (and so of the dequantized DSConv paths, fed their
 * dequantized inputs and weights): per output, taps in order, then the group's channels in order,
 * acc = fround(acc + fround(x · w)); a padded tap adds x = 0. Input NHWC, weights OIHW; returns
 * [pixels][outChannels], before bias and activation.
 */
export function f32ConvTwin(x: Float32Array, w: Float32Array, g: TwinGeometry): Float32Array {
  const [oh, ow] = outSize(g);
  const cg = g.inChannels / g.groups;
  const og = g.outChannels / g.groups;
  const taps = g.kh * g.kw;
  const out = new Float32Array(oh * ow * g.outChannels);
  walk(g, (p, o, t, at) => {
    const c0 = Math.floor(o / og) * cg;
    let acc = out[p * g.outChannels + o];
    for (let c = 0; c < cg; c++) {
      const v = at < 0 ? 0 : x[at * g.inChannels + c0 + c];
      acc = f(acc + f(v * w[(o * cg + c) * taps + t]));
    }
    out[p * g.outChannels + o] = acc;
  });
  return out;
}

/**
 * Twin of the integer DSConv kernels (dsconv_igemm_*, either dot product): BFP of the input as
 * bfpReference gives it, then per output, taps in order, then blocks in order: the exact integer
 * dot Σ q·M of the block, and acc = fround(acc + fround(fround(fround(dot) · ξ) · 2^(E-m+2))); a
 * padded tap has M = 0 and scale 0. Input NHWC, q OIHW, scales as quantizeWeights gives them;
 * returns [pixels][outChannels], before bias and activation.
 */
export function dsconvIgemmTwin(x: Float32Array, q: Int8Array, scales: Float32Array, mode: BlockMode,
  blockSize: number, mantissaBits: number, g: TwinGeometry): Float32Array {
  const [oh, ow] = outSize(g);
  const cg = g.inChannels / g.groups;
  const og = g.outChannels / g.groups;
  const taps = g.kh * g.kw;
  const B = mode === 'taps' ? 1 : Math.min(blockSize, cg);
  const nB = Math.ceil(cg / B);
  const bfp = bfpReference(x, g.height * g.width, g.inChannels, g.groups, B, mantissaBits);
  const slots = g.groups * nB;
  const out = new Float32Array(oh * ow * g.outChannels);
  walk(g, (p, o, t, at) => {
    const grp = Math.floor(o / og);
    let acc = out[p * g.outChannels + o];
    for (let b = 0; b < nB; b++) {
      let dot = 0;
      let s = 0;
      if (at >= 0) {
        for (let c = b * B; c < Math.min((b + 1) * B, cg); c++) dot += q[(o * cg + c) * taps + t] * bfp.mant[at * g.inChannels + grp * cg + c];
        s = bfp.scales[at * slots + grp * nB + b];
      }
      const xi = mode === 'taps' ? scales[o] : scales[(o * nB + b) * taps + t];
      acc = f(acc + f(f(f(dot) * xi) * s));
    }
    out[p * g.outChannels + o] = acc;
  });
  return out;
}

/** What bfp_dequant writes: each value as M · 2^(E-m+2), float32 (exact); bfp_dequant_c1_bf16 the same in bfloat16. */
export function bfpDequantTwin(x: Float32Array, pixels: number, channels: number, groups: number, blockSize: number, mantissaBits: number): Float32Array {
  const cg = channels / groups;
  const B = Math.min(blockSize, cg);
  const nB = Math.ceil(cg / B);
  const bfp = bfpReference(x, pixels, channels, groups, B, mantissaBits);
  const out = new Float32Array(x.length);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < channels; c++) {
      const slot = (p * groups + Math.floor(c / cg)) * nB + Math.floor((c % cg) / B);
      out[p * channels + c] = bfp.mant[p * channels + c] * bfp.scales[slot];
    }
  }
  return out;
}

/** What dsconv_dequant_4x8 and dsconv_dequant_dw form: ξ·q per weight, float32, OIHW. */
export function dequantWeightsTwin(q: Int8Array, scales: Float32Array, mode: BlockMode, blockSize: number,
  outChannels: number, groupChannels: number, taps: number): Float32Array {
  const B = Math.min(blockSize, groupChannels);
  const nB = Math.ceil(groupChannels / B);
  const w = new Float32Array(q.length);
  for (let o = 0; o < outChannels; o++) {
    for (let c = 0; c < groupChannels; c++) {
      for (let t = 0; t < taps; t++) {
        const xi = mode === 'taps' ? scales[o] : scales[(o * nB + Math.floor(c / B)) * taps + t];
        w[(o * groupChannels + c) * taps + t] = f(q[(o * groupChannels + c) * taps + t] * xi);
      }
    }
  }
  return w;
}

/**
 * f64_gemm_4x4's twin: C[g] += A[g]ᵀ·B[g] entry by entry, C [groups][m][n], A and B the panels of
 * m and n variables over `len` samples ([panel][sample][4] per group, abi.ts GemmParam), each
 * entry's products added in sample order onto its value. With B null, B is A and only the entries
 * of the 4x4 tiles on or right of the diagonal (j ≥ 4·⌊i/4⌋) are summed.
 */
export function gemmPanelsTwin(C: Float64Array, A: Float64Array, B: Float64Array | null, groups: number, m: number, n: number, len: number): void {
  const at = (rows: number, g: number, r: number, s: number) => ((g * Math.ceil(rows / 4) + Math.floor(r / 4)) * len + s) * 4 + (r % 4);
  const b = B ?? A;
  for (let g = 0; g < groups; g++) {
    for (let i = 0; i < m; i++) {
      for (let j = B ? 0 : i - (i % 4); j < n; j++) {
        let c = C[(g * m + i) * n + j];
        for (let s = 0; s < len; s++) c += A[at(m, g, i, s)] * b[at(n, g, j, s)];
        C[(g * m + i) * n + j] = c;
      }
    }
  }
}

/**
 * f64_quadform_4x4's twin: per channel o, G_o[a][b] = Σ_i q_oi·(Σ_(j in run b) H_ij·q_oj) over
 * the rows i of block a, each inner sum in column order, the outer in row order, for b ≥ a, then
 * mirrored below the diagonal. H [groups][D][D], Q [C][D], runs [start, end, scale] triples.
 */
export function quadformTwin(H: Float64Array, Q: Float64Array, runs: Int32Array, scaleOf: Int32Array, C: number, D: number, K: number, og: number): Float64Array {
  const G = new Float64Array(C * K * K);
  for (let o = 0; o < C; o++) {
    const h0 = Math.floor(o / og) * D * D, q0 = o * D, g0 = o * K * K;
    for (let i = 0; i < D; i++) {
      for (let u = 0; u < runs.length; u += 3) {
        const k = runs[u + 2];
        if (k < scaleOf[i]) continue;
        let v = 0;
        for (let j = runs[u]; j < runs[u + 1]; j++) v += H[h0 + i * D + j] * Q[q0 + j];
        G[g0 + scaleOf[i] * K + k] += Q[q0 + i] * v;
      }
    }
    for (let a = 1; a < K; a++) for (let b = 0; b < a; b++) G[g0 + a * K + b] = G[g0 + b * K + a];
  }
  return G;
}

/**
 * f64_rank_update_4x4's twin: W[r][m] −= E[r][b]·U[j0+b][m] for every row r, m in [j1, d) and b
 * ascending in [0, nb), one subtraction at a time. W rows x d, E rows x eStride, U d x d.
 */
export function rankUpdateTwin(W: Float64Array, E: Float64Array, U: Float64Array, rows: number, d: number, eStride: number, j0: number, nb: number, j1: number): void {
  for (let r = 0; r < rows; r++) {
    for (let m = j1; m < d; m++) {
      let c = W[r * d + m];
      for (let b = 0; b < nb; b++) c -= E[r * eStride + b] * U[(j0 + b) * d + m];
      W[r * d + m] = c;
    }
  }
}

// Calibration's factorisation: each entry's terms subtracted one at a time in ascending k, the
// order the kernels keep however they block and split, so they must match these bit for bit.

/**
 * f64_cholesky_4x4's twin: the lower Cholesky factor L of the symmetric positive definite n x n
 * matrix whose entry (i, j) is `at(i, j)` (read once, on or below the diagonal), or null if it is
 * not SPD: L[i][j] = (at(i, j) − L[i][0]·L[j][0] − … − L[i][j−1]·L[j][j−1]) / L[j][j], the square
 * root of that on the diagonal.
 */
export function choleskyTwin(at: (i: number, j: number) => number, n: number): Float64Array | null {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = at(i, j);
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      if (i === j) {
        if (!(s > 0)) return null;
        L[i * n + i] = Math.sqrt(s);
      } else L[i * n + j] = s / L[j * n + j];
    }
  }
  return L;
}

/**
 * f64_cholesky_inverse_4x4's twin (after f64_cholesky_4x4): U upper triangular with H⁻¹ = Uᵀ U
 * (n x n, row-major, H at `h0` with `damp` added to its diagonal); null if that is not SPD. With
 * J the reversal permutation and J H J = L Lᵀ, H = R Rᵀ for the upper R = J L J, so
 * H⁻¹ = (R⁻¹)ᵀ R⁻¹ and U = R⁻¹ = J L⁻¹ J: one Cholesky and one triangular inverse, each column c
 * of L⁻¹ by forward substitution (x_c = 1 / L[c][c], x_i = (0 − Σ_(c ≤ k < i) L[i][k]·x_k) / L[i][i]).
 * Only H's upper triangle is read.
 */
export function upperCholeskyOfInverseTwin(H: Float64Array, h0: number, n: number, damp: number): Float64Array | null {
  const last = h0 + (n - 1) * n + (n - 1);
  // (J H J)[i][j] for j <= i is H[n-1-i][n-1-j], on or above H's diagonal.
  const L = choleskyTwin((i, j) => H[last - i * n - j] + (i === j ? damp : 0), n);
  if (!L) return null;
  // (L⁻¹)[r][c] is U[n-1-r][n-1-c].
  const U = new Float64Array(n * n);
  const x = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    x[c] = 1 / L[c * n + c];
    for (let i = c + 1; i < n; i++) {
      let v = 0;
      for (let k = c; k < i; k++) v -= L[i * n + k] * x[k];
      x[i] = v / L[i * n + i];
    }
    for (let r = c; r < n; r++) U[(n - 1 - r) * n + (n - 1 - c)] = x[r];
  }
  return U;
}
