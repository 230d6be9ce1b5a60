// The portable build's exports (names: docs/ARCHITECTURE.md, "Kernel names"). The host owns all
// memory above heap_base() and passes byte offsets; the larger kernels take one parameter record
// (src/core/abi.ts).
export * from './kernels/bfp_quantize';
export * from './kernels/bfp_dequant';
export * from './kernels/dsconv_igemm_4x8c2_dot16';
export * from './kernels/dsconv_dequant';
export * from './kernels/f32_igemm_4x8';
export * from './kernels/f32_dwconv_1x16';
export * from './kernels/f32_dwconv_1x16_bf16';
export * from './kernels/f32_transpose';
export * from './kernels/f32_repack';
export * from './kernels/f32_epilogue';
export * from './kernels/f32_find_nonfinite';
export * from './kernels/f64_gemm_4x4';
export * from './kernels/f64_quadform_4x4';
export * from './kernels/f64_rank_update_4x4';
export * from './kernels/f64_cholesky';

/** First byte past the module's static data: the host's heap starts here. */
export function heap_base(): usize {
  return __heap_base;
}

// The one global: always 0, for the relaxed build's run-time vectors (templates/lanes.ts).
export { opaque_zero } from './templates/lanes';
