// Conv2d: the float32 baseline, with the same options and forward() as DSConv2d.
import { type ConvOptions, type InputShape, parseGeometry, parseBias, SHAPE_KEYS } from '../geometry.js';
import { type FloatRecord, selectConv } from '../kernel-table.js';
import { CONV2D_KEYS } from '../options.js';
import { rt } from '../runtime.js';
import { float32Array, requireFinite, object, knownOptions } from '../validate.js';
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
    rt();
    const g = parseGeometry(options, CONV2D_KEYS);
    const bias = parseBias(g, (options as unknown as Record<string, unknown>).bias);
    float32Array('weights', weights, weightCount(g), weightShape(g));
    requireFinite('weights', weights);
    super(g, bias);
    this.kernel = selectConv(this.runtime.build, g);
    this.path = floatPath(this.kernel, g, weights, this.keep);
  }
}

/** One-shot float convolution: packs the weights, runs forward once, frees the layer. */
export function conv2d(input: Float32Array, weights: Float32Array, options: ConvOptions & InputShape): Float32Array {
  const o = object('options', options);
  knownOptions('options', o, [...CONV2D_KEYS, ...SHAPE_KEYS]);
  // Each half goes where its names are known; undefined entries take their defaults there.
  const { batch, height, width, layout, outputLayout, ...conv } = o;
  const layer = new Conv2d(weights, conv as unknown as ConvOptions);
  try {
    return layer.forward(input, { batch, height, width, layout, outputLayout } as InputShape);
  } finally {
    layer.dispose();
  }
}
