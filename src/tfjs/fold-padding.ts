// ZeroPadding2D folded into the conv after it: which padding layers of a layers model feed only a
// conv the plug-in replaces, found once from the model's graph. Keras applications pad before
// their stride-2 convs (MobileNet, MobileNetV2, EfficientNet, ResNet's stem) so that the conv can
// be 'valid'; DSConv takes explicit padding, so such a conv reads the unpadded tensor with the
// pad as its own zero padding, and the padding layer, whose PadV2 copies the whole tensor,
// passes its input on. Graph models are left alone.
import type { KLayer, TensorRef } from './fold.js';
import { soleConsumer } from './fold.js';

/** One ZeroPadding2D whose only consumer is a 'valid' conv the plug-in replaces. */
export interface PaddingFold {
  /** The padding layer and the conv's layer names, for messages. */
  padding: string;
  conv: string;
  /** The zeros added: [top, bottom, left, right]. */
  pads: [number, number, number, number];
  /** The padding layer itself, whose call the plug-in replaces while it is active. */
  layer: KLayer;
  /** The conv's filter tensor: only its calls take the pad. */
  filter: TensorRef;
}

/**
 * Every ZeroPadding2D (channels last) of a tfjs LayersModel, nested models included, that is
 * called once, is not a model output, and goes only to a Keras Conv2D or DepthwiseConv2D with
 * 'valid' padding, channels last, called once and on it alone. Empty for any other model.
 */
export function findPaddingFolds(model: object): PaddingFold[] {
  const folds: PaddingFold[] = [];
  if (Array.isArray((model as { layers?: unknown }).layers)) collect(model as KLayer, folds);
  return folds;
}

function collect(model: KLayer, folds: PaddingFold[]): void {
  const outputs = new Set((model.outputs ?? []).map((t) => t.sourceLayer));
  for (const layer of model.layers!) {
    if (Array.isArray(layer.layers)) { collect(layer, folds); continue; }
    if (layer.getClassName() !== 'ZeroPadding2D' || layer.inboundNodes.length !== 1 || layer.outboundNodes.length !== 1 || outputs.has(layer)) continue;
    const c = layer.getConfig();
    const pads = padsOf(c.padding);
    if (!pads || c.dataFormat !== 'channelsLast') continue;
    const conv = soleConsumer(layer);
    const kind = conv?.getClassName();
    if (!conv || (kind !== 'Conv2D' && kind !== 'DepthwiseConv2D') || conv.inboundNodes.length !== 1) continue;
    const cc = conv.getConfig();
    if (cc.padding !== 'valid' || cc.dataFormat !== 'channelsLast') continue;
    folds.push({ padding: layer.name, conv: conv.name, pads, layer, filter: (kind === 'Conv2D' ? conv.kernel : conv.depthwiseKernel)!.read() });
  }
}

/** [[top, bottom], [left, right]] (tfjs-layers' normalized config) as [top, bottom, left, right]. */
function padsOf(p: unknown): [number, number, number, number] | undefined {
  if (!Array.isArray(p) || p.length !== 2 || !p.every((a) => Array.isArray(a) && a.length === 2)) return undefined;
  const flat = (p as number[][]).flat();
  return flat.every((v) => Number.isInteger(v) && v >= 0) ? flat as [number, number, number, number] : undefined;
}
