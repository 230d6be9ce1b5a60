// Conv2d: the float32 baseline, with the same options and forward() as DSConv2d.
import { type ConvOptions, type InputShape, parseGeometry, parseBias } from '../geometry.js';
import { type FloatRecord, selectConv } from '../kernel-table.js';
import { rt } from '../runtime.js';
import { float32Array, requireFinite } from '../validate.js';
import { ConvLayer } from './conv-layer.js';
import type { ConvPath } from './path.js';
import { floatPath } from './paths.js';
import { weightCount, weightShape } from './weights.js';

export class Conv2d extends ConvLayer {
  /** The kernel-table record this layer runs. */
  readonly kernel: Readonly<FloatRecord>;
  protected readonly path: ConvPath;

  /** Packs float32 OIHW weights ([outChannels][inChannels/groups][kh][kw]) into a layer. */
  constructor(weights: Float32Array, options: ConvOptions) {
    const r = rt();
    const g = parseGeometry(options);
    const bias = parseBias(g, (options as unknown as Record<string, unknown>).bias);
    float32Array('weights', weights, weightCount(g), weightShape(g));
    requireFinite('weights', weights);
    super(g, bias);
    this.kernel = selectConv(r.build, g);
    this.path = floatPath(this.kernel, g, weights, this.keep);
  }
}

/** One-shot float convolution: packs the weights, runs forward once, frees the layer. */
export function conv2d(input: Float32Array, weights: Float32Array, options: ConvOptions & InputShape): Float32Array {
  const layer = new Conv2d(weights, options);
  try {
    return layer.forward(input, options);
  } finally {
    layer.dispose();
  }
}
