// The benchmark's layer suite and its deterministic tensors (the figures must not depend on a
// seed's luck).
import { Conv2d } from '../core/layers/conv2d.js';
import { init } from '../core/init.js';
import { outputExtent } from '../core/geometry.js';
import { mulberry32 } from '../core/random.js';

export interface LayerSpec {
  name: string;
  size: number;        // input height = width
  inChannels: number;
  outChannels: number;
  kernel: number;      // kh = kw
  stride: number;
  groups: number;      // inChannels for depthwise
  macs: number;        // multiply-accumulates of one batch-1 call
}

/** Padding of every suite layer: (k - 1) / 2 on each side, as in the networks they come from. */
export const padOf = (s: Pick<LayerSpec, 'kernel'>) => (s.kernel - 1) >> 1;

export const outSizeOf = (s: Pick<LayerSpec, 'size' | 'kernel' | 'stride'>) =>
  outputExtent(s.size, s.kernel, s.stride, 1, padOf(s), padOf(s));

/** A layer's spec, its MACs counted at the suite's padding (tools/compare.mjs makes extra ones). */
export function layerSpec(name: string, size: number, inChannels: number, outChannels: number, kernel: number, stride = 1, groups = 1): LayerSpec {
  const o = outSizeOf({ size, kernel, stride });
  return { name, size, inChannels, outChannels, kernel, stride, groups, macs: o * o * outChannels * (inChannels / groups) * kernel * kernel };
}

/** The layers of issue 3, batch 1; every one has a bias and a ReLU. Names give the input size. */
export const SUITE: readonly LayerSpec[] = [
  layerSpec('resnet18 56x56 64->64', 56, 64, 64, 3),
  layerSpec('resnet18 28x28 128->128', 28, 128, 128, 3),
  layerSpec('resnet18 14x14 256->256', 14, 256, 256, 3),
  layerSpec('resnet18 7x7 512->512', 7, 512, 512, 3),
  layerSpec('resnet18 56x56 64->128 s2', 56, 64, 128, 3, 2),
  layerSpec('resnet50 56x56 64->256 1x1', 56, 64, 256, 1),
  layerSpec('resnet50 14x14 1024->256 1x1', 14, 1024, 256, 1),
  layerSpec('vgg16 56x56 256->256', 56, 256, 256, 3),
  layerSpec('mobilenetv2 14x14 96->576 1x1', 14, 96, 576, 1),
  layerSpec('mobilenetv2 14x14 576 dw3x3', 14, 576, 576, 3, 1, 576),
  layerSpec('stem 224x224 3->64 7x7 s2', 224, 3, 64, 7, 2),
];

/**
 * Suite layers picked by name (case-insensitive). A term selects the layer of exactly that name;
 * else the layers whose name has the term's words in a row, each matching the start of a word:
 * "resnet18", "resnet", "dw", "1x1", "s2", "resnet18 7x7". One word that is an input size of the
 * suite ("7x7", "56x56": a name's second word) picks by input size alone, so "7x7" is not also
 * the stem, whose kernel is 7x7. A term matching none is a RangeError naming it.
 */
export function selectLayers(terms: readonly string[]): LayerSpec[] {
  const sizeOf = (l: LayerSpec) => `${l.size}x${l.size}`;
  const sizes = new Set(SUITE.map(sizeOf));
  const inRow = (name: string[], words: string[]) =>
    name.some((_, i) => words.every((w, j) => name[i + j]?.startsWith(w)));
  const picked = new Set<LayerSpec>();
  for (const term of terms) {
    const t = term.trim().toLowerCase();
    const words = t.split(/\s+/).filter(Boolean);
    const exact = SUITE.filter((l) => l.name.toLowerCase() === t);
    const hits = exact.length || !words.length ? exact
      : words.length === 1 && sizes.has(words[0]) ? SUITE.filter((l) => sizeOf(l) === words[0])
        : SUITE.filter((l) => inRow(l.name.toLowerCase().split(' '), words));
    if (!hits.length) throw new RangeError(`layers: no suite layer matches ${JSON.stringify(term)}; layers are ${SUITE.map((l) => `"${l.name}"`).join(', ')}`);
    hits.forEach((l) => picked.add(l));
  }
  return SUITE.filter((l) => picked.has(l));
}

/** One layer's tensors, all deterministic: the figures must not depend on a seed's luck. */
export interface LayerData {
  spec: LayerSpec;
  /** OIHW: [outChannels][inChannels / groups][k][k]. */
  weights: Float32Array;
  bias: Float32Array;
  /** NCHW [1][inChannels][size][size]. */
  input: Float32Array;
  /** dsconv-f32's output, NCHW: the yardstick every engine's output is checked against. */
  reference: Float32Array;
}

function gaussian(n: number, seed: number, scale = 1): Float32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return out;
}

/** The conv options of a suite layer for this package's layers. */
export function convOptions(spec: LayerSpec, bias: Float32Array) {
  return {
    inChannels: spec.inChannels, outChannels: spec.outChannels, kernelSize: spec.kernel, stride: spec.stride,
    padding: padOf(spec), groups: spec.groups, bias, activation: 'relu' as const,
  };
}

/** Weights (He-scaled Gaussian), bias, input and the float reference output of a suite layer. */
export async function layerData(spec: LayerSpec): Promise<LayerData> {
  await init();
  const fanIn = (spec.inChannels / spec.groups) * spec.kernel ** 2;
  const weights = gaussian(spec.outChannels * fanIn, 1, Math.sqrt(2 / fanIn));
  const bias = gaussian(spec.outChannels, 2, 0.1);
  const input = gaussian(spec.inChannels * spec.size * spec.size, 3);
  const conv = new Conv2d(weights, convOptions(spec, bias));
  const reference = conv.forward(input, { height: spec.size, width: spec.size });
  conv.dispose();
  return { spec, weights, bias, input, reference };
}
