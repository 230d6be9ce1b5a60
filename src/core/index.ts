// dsconv: DSConv quantized convolution as WebAssembly SIMD kernels.
export { init, type InitOptions } from './init.js';
export { getInfo, profile, shutdown, trimMemory, type Build, type Info, type Profile } from './runtime.js';
export { DSConv2d, type WeightBytes } from './layers/dsconv2d.js';
export { Conv2d, conv2d } from './layers/conv2d.js';
export type { DSConvOptions, Quantization, QuantSettings } from './options.js';
export type { ConvOptions, InputShape, Layout, Padding, Activation } from './geometry.js';
export {
  quantizeWeights, packInts, unpackInts, packedWeightBytes,
  type BlockMode, type QuantizedWeights, type WeightShape,
} from './quantize.js';
export { FORMAT_VERSION } from './serialize.js';
export { sqnrDb } from './sqnr.js';
