// dsconv: DSConv quantized convolution as WebAssembly SIMD kernels.
export { init, getInfo, type InitOptions, type Info } from './wasm.js';
export {
  DSConv2d, Conv2d, conv2d,
  type DSConvOptions, type Quantization, type WeightBytes,
} from './layer.js';
export type { ConvOptions, InputShape, Layout, Padding, Activation } from './geometry.js';
export {
  quantizeWeights, packInts, unpackInts, packedWeightBytes,
  type BlockMode, type QuantizedWeights, type WeightShape,
} from './quantize.js';
export { FORMAT_VERSION } from './serialize.js';
