// The quantization options and their one schema: defaults and ranges written once, read by
// DSConv2d, the TF.js plug-in, the layer format and the CLI.
import { type ConvOptions, CONV_KEYS } from './geometry.js';
import { int, oneOf, or, keysOf } from './validate.js';

/**
 * Weight blocks of a depthwise layer (one input channel per group): 'channels' (one scale per
 * weight, as the paper) or 'taps' (one scale per output channel over its kh x kw taps).
 */
export type BlockMode = 'channels' | 'taps';
export const BLOCK_MODES: readonly BlockMode[] = ['channels', 'taps'];

/** Quantization settings of one layer. */
export interface QuantSettings {
  /** Weight bits b, 2..8. Default 4. */
  bits: number;
  /** B, input channels per scale, 1..65536. Default 32. */
  blockSize: number;
  /** Activation mantissa bits m (sign included), 2..8. Default 8. */
  mantissaBits: number;
  /** Depthwise weight blocks. Default 'channels'. */
  depthwiseBlocks: BlockMode;
}

export const QUANT_DEFAULTS: Readonly<QuantSettings> = { bits: 4, blockSize: 32, mantissaBits: 8, depthwiseBlocks: 'channels' };

export const QUANT_KEYS = keysOf<QuantSettings>({ bits: 1, blockSize: 1, mantissaBits: 1, depthwiseBlocks: 1 });

/** Inclusive ranges of the integer settings. */
export const QUANT_RANGES = {
  bits: [2, 8],
  blockSize: [1, 65536],
  mantissaBits: [2, 8],
} as const satisfies Record<Exclude<keyof QuantSettings, 'depthwiseBlocks'>, readonly [number, number]>;

/** The settings in `o` (missing ones from `base`), each checked; errors name `${name}.field`. */
export function parseQuantSettings(name: string, o: Record<string, unknown>, base: Readonly<QuantSettings> = QUANT_DEFAULTS): QuantSettings {
  const ranged = (k: keyof typeof QUANT_RANGES) => int(`${name}.${k}`, or(o[k], base[k]), QUANT_RANGES[k][0], QUANT_RANGES[k][1]);
  return {
    bits: ranged('bits'),
    blockSize: ranged('blockSize'),
    mantissaBits: ranged('mantissaBits'),
    depthwiseBlocks: oneOf(`${name}.depthwiseBlocks`, or(o.depthwiseBlocks, base.depthwiseBlocks), BLOCK_MODES),
  };
}

/** DSConv options: the convolution's plus the quantization's. */
export interface DSConvOptions extends ConvOptions, Partial<QuantSettings> {
  /** CDS: per-output-channel affine y' = gamma * y + delta after the bias. Float32Array[outChannels]. */
  gamma?: Float32Array;
  delta?: Float32Array;
}

/** What DSConv2d takes; Conv2d takes the same minus the CDS, and ignores the quantization settings. */
export const DSCONV_KEYS = keysOf<DSConvOptions>({
  inChannels: 1, outChannels: 1, kernelSize: 1, stride: 1, padding: 1, dilation: 1, groups: 1, bias: 1, activation: 1,
  bits: 1, blockSize: 1, mantissaBits: 1, depthwiseBlocks: 1, gamma: 1, delta: 1,
});
export const CONV2D_KEYS: readonly string[] = [...CONV_KEYS, ...QUANT_KEYS];

/** Quantization settings of a DSConv2d, after defaults. */
export interface Quantization {
  bits: number;
  blockSize: number;
  mantissaBits: number;
  blockMode: BlockMode;
  nBlocks: number;
}
