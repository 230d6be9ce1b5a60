// The wasm module's exports as the host sees them (assembly/index.ts, index_relaxed.ts), and the
// one table that says how many arguments each takes and what it does. The loader checks a module
// against the table before any layer uses it, so a host and a binary that disagree fail at init()
// instead of computing garbage.

/** Every pointer is a byte offset into memory; `params` is a record of core/abi.ts. */
export interface Kernels {
  memory: WebAssembly.Memory;
  heap_base(): number;
  /** BFP passes (BfpParam); true when the input held a NaN or ±Inf. */
  bfp_quantize_i16(params: number): number;
  bfp_quantize_i8(params: number): number;
  bfp_dequant(params: number): number;
  bfp_dequant_c1_bf16(params: number): number;
  /** Integer DSConv micro-kernels (ConvParam). */
  dsconv_igemm_4x8c2_dot16_q8(params: number): void;
  dsconv_igemm_4x8c2_dot16_q4(params: number): void;
  /** Relaxed build only. */
  dsconv_igemm_4x8c4_rdot_q7?(params: number): void;
  dsconv_igemm_4x8c4_rdot_q4?(params: number): void;
  /** Per-call dequantized weights for the float paths of DSConv. */
  dsconv_dequant_4x8(q: number, xi: number, units: number, channels: number, blockLen: number, nBlocks: number, dst: number): void;
  dsconv_dequant_dw(q: number, xi: number, xiTapStride: number, taps: number, channels: number, dst: number): void;
  /** Float32 micro-kernels (ConvParam). */
  f32_igemm_4x8(params: number): void;
  f32_dwconv_1x16(params: number): void;
  f32_dwconv_1x16_bf16(params: number): void;
  /** Layout, output and checks. */
  f32_transpose(src: number, rows: number, cols: number, srcStride: number, dst: number, dstStride: number): void;
  f32_repack(src: number, pixels: number, channels: number, srcStride: number, dst: number, dstStride: number): void;
  f32_epilogue(params: number): void;
  f32_find_nonfinite(ptr: number, n: number): number;
  /** Calibration's Gram sums (GemmParam). */
  f64_gemm_4x4(params: number): void;
  /** Calibration's block moments (QuadformParam). */
  f64_quadform_4x4(params: number): void;
  /** GPTQ's lazy block update (UpdateParam). */
  f64_rank_update_4x4(params: number): void;
  /** Calibration's factorisation (CholeskyParam): the factor in place, 1 when not positive definite; then U from it. */
  f64_cholesky_4x4(params: number): number;
  f64_cholesky_inverse_4x4(params: number): void;
  /** Relaxed build only: one relaxed dot product, for the run-time probe. */
  probe_relaxed_dot?(a: number, b: number, c: number, out: number): void;
}

export type ExportName = Exclude<keyof Kernels, 'memory'>;

/** What an export is for (the benchmark's breakdown groups its time by this). */
export type ExportRole = 'setup' | 'check' | 'layout' | 'bfp' | 'weights' | 'conv' | 'epilogue' | 'linalg' | 'probe';

/**
 * Arguments and role of every export. `arity` is checked by the compiler against the signature
 * above and by the loader against the binary; `relaxed` marks those only the relaxed build has.
 */
export const EXPORTS: { readonly [K in ExportName]-?: { arity: Parameters<NonNullable<Kernels[K]>>['length']; role: ExportRole; relaxed?: true } } = {
  heap_base: { arity: 0, role: 'setup' },
  bfp_quantize_i16: { arity: 1, role: 'bfp' },
  bfp_quantize_i8: { arity: 1, role: 'bfp' },
  bfp_dequant: { arity: 1, role: 'bfp' },
  bfp_dequant_c1_bf16: { arity: 1, role: 'bfp' },
  dsconv_igemm_4x8c2_dot16_q8: { arity: 1, role: 'conv' },
  dsconv_igemm_4x8c2_dot16_q4: { arity: 1, role: 'conv' },
  dsconv_igemm_4x8c4_rdot_q7: { arity: 1, role: 'conv', relaxed: true },
  dsconv_igemm_4x8c4_rdot_q4: { arity: 1, role: 'conv', relaxed: true },
  dsconv_dequant_4x8: { arity: 7, role: 'weights' },
  dsconv_dequant_dw: { arity: 6, role: 'weights' },
  f32_igemm_4x8: { arity: 1, role: 'conv' },
  f32_dwconv_1x16: { arity: 1, role: 'conv' },
  f32_dwconv_1x16_bf16: { arity: 1, role: 'conv' },
  f32_transpose: { arity: 6, role: 'layout' },
  f32_repack: { arity: 6, role: 'layout' },
  f32_epilogue: { arity: 1, role: 'epilogue' },
  f32_find_nonfinite: { arity: 2, role: 'check' },
  f64_gemm_4x4: { arity: 1, role: 'linalg' },
  f64_quadform_4x4: { arity: 1, role: 'linalg' },
  f64_rank_update_4x4: { arity: 1, role: 'linalg' },
  f64_cholesky_4x4: { arity: 1, role: 'linalg' },
  f64_cholesky_inverse_4x4: { arity: 1, role: 'linalg' },
  probe_relaxed_dot: { arity: 4, role: 'probe', relaxed: true },
};

/**
 * The kernels of a module, checked against EXPORTS: every export of its build present with the
 * right arity. Returns which build it is (the relaxed one has the relaxed exports).
 */
export function checkExports(exports: Record<string, unknown>): { kernels: Kernels; relaxed: boolean } {
  const relaxed = typeof exports.probe_relaxed_dot === 'function';
  if (!(exports.memory instanceof WebAssembly.Memory)) throw new Error('dsconv: the wasm module exports no memory; is it a dsconv build?');
  for (const [name, e] of Object.entries(EXPORTS)) {
    const fn = exports[name];
    if (fn === undefined && e.relaxed && !relaxed) continue;
    if (typeof fn !== 'function') throw new Error(`dsconv: the wasm module lacks the export ${name}; it does not match this version of the host`);
    if (fn.length !== e.arity) {
      throw new Error(`dsconv: the wasm module's ${name} takes ${fn.length} arguments where this host passes ${e.arity}; rebuild the module with this version`);
    }
  }
  return { kernels: exports as unknown as Kernels, relaxed };
}
