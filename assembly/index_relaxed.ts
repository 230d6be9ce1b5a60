// The relaxed-SIMD build: every portable kernel plus those that use relaxed instructions. It is a
// separate module because one relaxed opcode keeps a whole module from compiling where relaxed
// SIMD is missing.
export * from './index';
export * from './probes/probe_relaxed_dot';
export * from './kernels/dsconv_igemm_4x8c4_rdot';
