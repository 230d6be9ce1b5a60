// `dsconv/reference`: the scalar references, test oracles only (production code never imports
// them), and the helpers the tests draw and compare data with, so tests need no internal path.
export * from './oracles.js';
export * from './kernels.js';
export { sqnrDb } from '../core/sqnr.js';
export { mulberry32 } from '../core/random.js';
export { nchwToNhwc, nhwcToNchw } from '../core/layout.js';
export { crc32 } from '../core/crc32.js';
