// Depthwise float32 kernel (one input channel per output channel), the loop of
// templates/dwconv_1x16.ts on float32 input: Conv2d's depthwise path.
import { dwconvPixels } from '../templates/dwconv_1x16';

/** `params`: a ConvParam record; input NHWC float32, channel stride padded to a multiple of 4. */
export function f32_dwconv_1x16(params: usize): void {
  dwconvPixels<f32>(params);
}
