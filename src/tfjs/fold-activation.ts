// ReLU and ReLU6 folded into the conv before them: which convs of a layers model feed only such an
// activation (directly, or through the BatchNormalization folded into them), found once from the
// model's graph. Such a conv applies the clamp in its epilogue, and the activation's kernels then
// return their input, which already lies in their range. Graph models need none of it: the
// converter already fuses these activations into their convs.
import { type KLayer, forEachSoleConv, soleConsumer } from './fold.js';

/** One conv whose only consumer, or its BN's only consumer, is a ReLU or ReLU6. */
export interface ActivationFold {
  /** The conv's and the activation's layer names, for messages. */
  conv: string;
  activationLayer: string;
  activation: 'relu' | 'relu6';
  /** The activation follows the conv's BatchNormalization: it folds only with that BN. */
  throughBatchNorm: boolean;
}

/**
 * Every conv of a tfjs LayersModel whose output, or that of the one BatchNormalization after it,
 * goes only to a ReLU (Keras `ReLU` with no `maxValue` or 6, or `Activation('relu')` /
 * `Activation('relu6')`), keyed by the dataId of its filter tensor. The convs qualify as for
 * findBatchNormFolds; the BN must not be a model output either. Empty for any other model.
 */
export function findActivationFolds(model: object): Map<object, ActivationFold> {
  const folds = new Map<object, ActivationFold>();
  if (!Array.isArray((model as { layers?: unknown }).layers)) return folds;
  forEachSoleConv(model as KLayer, (conv, filter, outputs) => {
    let tail = conv;
    const next = soleConsumer(conv);
    if (next && next.getClassName() === 'BatchNormalization') {
      if (next.outboundNodes.length !== 1 || outputs.has(next)) return;
      tail = next;
    }
    const act = tail === conv ? next : soleConsumer(tail);
    const activation = act && activationOf(act);
    if (act && activation) folds.set(filter.dataId, { conv: conv.name, activationLayer: act.name, activation, throughBatchNorm: tail !== conv });
  });
  return folds;
}

function activationOf(layer: KLayer): 'relu' | 'relu6' | undefined {
  const c = layer.getConfig();
  if (layer.getClassName() === 'ReLU') return c.maxValue == null ? 'relu' : c.maxValue === 6 ? 'relu6' : undefined;
  if (layer.getClassName() === 'Activation') return c.activation === 'relu' || c.activation === 'relu6' ? c.activation : undefined;
  return undefined;
}
