// BatchNormalization folded into the conv before it: which convs of a model can carry their BN
// (found once from the model's graph, never from the calls), and the arithmetic of the fold.
// An inference BN is a per-channel affine y = s·x + t with s = γ/√(var+ε), t = β − μ·s, so a
// conv followed only by it is one conv with weights s·W and bias s·b + t. The plug-in scales
// each output channel's KDS by s and keeps the VQK: q depends on w/max|w| only, so s·W and W
// have the same q in exact arithmetic, and s·ξ is then the least-squares scale of s·W. That
// leaves the CDS γ, δ free for calibration, and the folded layer is an ordinary DSConv layer.

/** What the analysis needs of a tensor: its identity and its values (read only when folding). */
export interface TensorRef {
  dataId: object;
  shape: number[];
  dataSync(): ArrayLike<number>;
}

/** One conv whose only consumer is an inference BatchNormalization. */
export interface BatchNormFold {
  /** The conv's and the BN's layer (or node) names, for messages. */
  conv: string;
  batchNorm: string;
  /** The BN's parameters; `gamma` absent means 1 (Keras `scale: false`), `beta` absent 0. */
  gamma?: TensorRef;
  beta?: TensorRef;
  mean: TensorRef;
  variance: TensorRef;
  epsilon: number;
  /** The conv's own bias (a Keras conv with `use_bias`, a graph conv's fused BiasAdd). */
  bias?: TensorRef;
}

interface KVar { read(): TensorRef }
interface KNode { outboundLayer: KLayer; inboundLayers: KLayer[] }
/** What the analyses read of a tfjs-layers layer (or nested model). */
export interface KLayer {
  name: string;
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  inboundNodes: KNode[];
  outboundNodes: KNode[];
  layers?: KLayer[];
  outputs?: { sourceLayer: KLayer }[];
  kernel?: KVar; depthwiseKernel?: KVar; bias?: KVar | null;
  gamma?: KVar | null; beta?: KVar | null; movingMean?: KVar; movingVariance?: KVar;
}
interface GNode {
  name: string;
  op: string;
  inputs: GNode[];
  children: GNode[];
  attrParams: Record<string, { value?: unknown } | undefined>;
}

const GRAPH_CONVS = new Set(['Conv2D', 'DepthwiseConv2dNative', '_FusedConv2D', 'FusedDepthwiseConv2dNative']);
const GRAPH_BNS = new Set(['FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3']);

/**
 * Every conv of a tfjs LayersModel or GraphModel that can carry the BatchNormalization after it,
 * keyed by the dataId of its filter tensor (what the plug-in's kernels see). A conv qualifies
 * when it is one the plug-in replaces (Keras Conv2D / DepthwiseConv2D, channels last, linear
 * activation, a depthwise one without bias since Keras adds that bias as a separate op; graph
 * Conv2D / DepthwiseConv2dNative, or their fused forms with BiasAdd alone), it runs once per
 * pass with a filter no other conv uses, and its output goes to exactly one BN over the channel
 * axis and nowhere else (not a model output). `null` when `model` is neither kind of model.
 */
export function findBatchNormFolds(model: object): Map<object, BatchNormFold> | null {
  const m = model as { layers?: unknown; executor?: { graph?: { nodes?: unknown; outputs?: unknown } }; weights?: unknown };
  if (Array.isArray(m.layers)) return layersFolds(model as KLayer, new Map());
  const g = m.executor?.graph;
  if (g && typeof g.nodes === 'object' && g.nodes !== null && Array.isArray(g.outputs) && m.weights && typeof m.weights === 'object') {
    return graphFolds(g.nodes as Record<string, GNode>, g.outputs as GNode[], m.weights as Record<string, TensorRef[] | undefined>);
  }
  return null;
}

/**
 * Calls `each(layer, filter, outputs)` for every layer of a LayersModel (nested models too) that
 * is a conv the plug-in replaces whose output goes to exactly one layer and is not a model output
 * (`outputs`: the model's output layers): Keras Conv2D / DepthwiseConv2D, channels last, linear
 * activation, a depthwise one without bias (Keras adds that bias as a separate op).
 */
export function forEachSoleConv(model: KLayer, each: (layer: KLayer, filter: TensorRef, outputs: Set<KLayer>) => void): void {
  const outputs = new Set((model.outputs ?? []).map((t) => t.sourceLayer));
  for (const layer of model.layers!) {
    if (Array.isArray(layer.layers)) { forEachSoleConv(layer, each); continue; } // a nested model: its own graph
    const kind = layer.getClassName();
    if (kind !== 'Conv2D' && kind !== 'DepthwiseConv2D') continue;
    const c = layer.getConfig();
    if (c.activation !== 'linear' || c.dataFormat !== 'channelsLast' || (kind === 'DepthwiseConv2D' && c.useBias)) continue;
    if (layer.inboundNodes.length !== 1 || layer.outboundNodes.length !== 1 || outputs.has(layer)) continue;
    each(layer, (kind === 'Conv2D' ? layer.kernel : layer.depthwiseKernel)!.read(), outputs);
  }
}

/** The layer a sole-output layer feeds, if it is that layer's only input. */
export function soleConsumer(layer: KLayer): KLayer | undefined {
  const next = layer.outboundNodes[0];
  const to = next.outboundLayer;
  return to.inboundNodes.length === 1 && next.inboundLayers.length === 1 ? to : undefined;
}

function layersFolds(model: KLayer, folds: Map<object, BatchNormFold>): Map<object, BatchNormFold> {
  forEachSoleConv(model, (layer, filter) => {
    const bn = soleConsumer(layer);
    if (!bn || bn.getClassName() !== 'BatchNormalization') return;
    const b = bn.getConfig();
    if (b.axis !== -1 && b.axis !== 3) return;
    const fold: BatchNormFold = {
      conv: layer.name, batchNorm: bn.name, mean: bn.movingMean!.read(), variance: bn.movingVariance!.read(), epsilon: Number(b.epsilon),
    };
    if (bn.gamma) fold.gamma = bn.gamma.read();
    if (bn.beta) fold.beta = bn.beta.read();
    if (layer.bias) fold.bias = layer.bias.read();
    folds.set(filter.dataId, fold);
  });
  return folds;
}

function graphFolds(nodes: Record<string, GNode>, outputs: GNode[], weights: Record<string, TensorRef[] | undefined>): Map<object, BatchNormFold> {
  const folds = new Map<object, BatchNormFold>();
  const constant = (n: GNode | undefined) => (n && n.op === 'Const' ? weights[n.name]?.[0] : undefined);
  const attr = (n: GNode, k: string) => n.attrParams[k]?.value;
  const nhwc = (n: GNode) => String(attr(n, 'dataFormat') ?? 'NHWC').toUpperCase() === 'NHWC';
  for (const node of Object.values(nodes)) {
    if (!GRAPH_CONVS.has(node.op) || !nhwc(node) || node.children.length !== 1 || outputs.includes(node)) continue;
    const fused = node.op.includes('Fused');
    if (fused) {
      const ops = attr(node, 'fusedOps');
      if (!Array.isArray(ops) || ops.length !== 1 || String(ops[0]).toLowerCase() !== 'biasadd') continue;
    }
    const bn = node.children[0];
    if (!GRAPH_BNS.has(bn.op) || bn.inputs[0] !== node || !nhwc(bn)) continue;
    const filter = constant(node.inputs[1]);
    if (!filter || node.inputs[1].children.length !== 1) continue;
    const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => constant(bn.inputs[i]));
    const bias = fused ? constant(node.inputs[2]) : undefined;
    if (!gamma || !beta || !mean || !variance || (fused && !bias)) continue;
    const fold: BatchNormFold = { conv: node.name, batchNorm: bn.name, gamma, beta, mean, variance, epsilon: Number(attr(bn, 'epsilon') ?? 0.001) };
    if (bias) fold.bias = bias;
    folds.set(filter.dataId, fold);
  }
  return folds;
}

/** Per output channel, the BN as y = scale·x + shift, in float64 (rounded once, where used). */
export interface FoldFactors { scale: Float64Array; shift: Float64Array }

/** s = γ/√(var+ε), t = β − μ·s per channel, from the BN's values (`gamma`/`beta` absent: 1/0). */
export function foldFactors(channels: number, p: { gamma?: ArrayLike<number>; beta?: ArrayLike<number>; mean: ArrayLike<number>; variance: ArrayLike<number>; epsilon: number }): FoldFactors {
  for (const k of ['gamma', 'beta', 'mean', 'variance'] as const) {
    const v = p[k];
    if (v !== undefined && v.length !== channels) throw new RangeError(`BatchNormalization ${k} has ${v.length} values for ${channels} conv output channels`);
  }
  const scale = new Float64Array(channels), shift = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const s = (p.gamma ? p.gamma[c] : 1) / Math.sqrt(p.variance[c] + p.epsilon);
    scale[c] = s;
    shift[c] = (p.beta ? p.beta[c] : 0) - p.mean[c] * s;
  }
  return { scale, shift };
}

/**
 * Values laid out with the output channel outermost (OIHW weights, or KDS scales), each
 * channel's run multiplied by its scale and rounded once to float32. A new array.
 */
export function scaleRows(values: Float32Array, scale: ArrayLike<number>): Float32Array {
  const per = values.length / scale.length;
  if (!Number.isInteger(per)) throw new RangeError(`${values.length} values do not split into ${scale.length} output channels`);
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] * scale[Math.floor(i / per)];
  return out;
}

/** The folded bias s·b + t (t alone for a conv without bias), rounded once to float32. */
export function foldBias(bias: ArrayLike<number> | undefined, f: FoldFactors): Float32Array {
  if (bias && bias.length !== f.scale.length) throw new RangeError(`conv bias has ${bias.length} values for ${f.scale.length} output channels`);
  return Float32Array.from(f.shift, (t, c) => (bias ? f.scale[c] * bias[c] : 0) + t);
}
