// The one internal entry (not in package.json's exports), for the tests that reach below the public
// API: the kernel tests (the runtime and its records, the kernel table, the packers and paths, so
// each kernel can be run directly; the Gram kernel's host side), the runtime's scratch
// accounting, the VQK rounding, the thread pool's fault injection, and guest runtimes.
export { rt, install, withRuntime, Runtime, type Build } from './runtime.js';
export { guestRuntime, type HostHeap } from './guest.js';
export { FAULT_THROW, FAULT_EXIT, FAULT_HANG } from './threads/control.js';
export { part, splitTiles } from './layers/path.js';
export { loadRuntime } from './init.js';
export { EXPORTS, type Kernels, type ExportName } from './exports.js';
export { ConvParam, BfpParam, EpilogueParam, GemmParam } from './abi.js';
export { gemmPanels, panelsLength, panelIndex, slicePanels, blockQuadforms, RoundingBuffers } from './moments.js';
export { choleskyLower, upperCholeskyOfInverse } from './factor.js';
export { DSCONV_TABLE, FLOAT_TABLE, selectDsconv, selectConv, dsconvFits, type DsconvRecord, type IgemmRecord, type FloatRecord } from './kernel-table.js';
export { blocks, packIgemm, packDequant, packFloat, packDepthwise, roundUp } from './pack.js';
export { parseGeometry, indirection, resolve, rowLayout, rowImageFloats } from './geometry.js';
export { roundHalfEven } from './quantize.js';
export { dsconvPath, floatPath } from './layers/paths.js';
export type { ConvPath, AccLayout } from './layers/path.js';
