// Depthwise kernel on bfloat16 input, the loop of templates/dwconv_1x16.ts: DSConv's depthwise
// path, whose BFP pass writes its exactly dequantized values as bfloat16 (bfp_dequant_c1_bf16).
import { dwconvPixels } from '../templates/dwconv_1x16';

/** `params`: a ConvParam record; input NHWC bfloat16, channel stride padded to a multiple of 4. */
export function f32_dwconv_1x16_bf16(params: usize): void {
  dwconvPixels<u16>(params);
}
