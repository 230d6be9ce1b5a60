// Calibration with unlabelled inputs, through the TF.js plug-in. Two passes over one batch:
// 1. float: every replaced conv runs this package's float32 Conv2d; at a fixed, seeded sample of
//    output positions per layer the pre-activation outputs are kept (the float network's targets);
// 2. quantized, layer by layer in execution order: each conv sees the outputs of the calibrated
//    quantized layers before it, and before it runs, its parameters are fitted to the float targets
//    at its sampled positions:
//    - 'rounding': data-aware choice of the VQK integers, error-compensating in the manner of
//      GPTQ/OBQ (columns quantized in turn, the error of each spread over the columns not yet
//      quantized through the inverse Hessian of the layer's inputs), with the KDS held fixed;
//    - 'scales': least-squares refit of every KDS ξ of an output channel jointly (ridge towards
//      the data-free ξ) given the integers;
//    - 'cds': the CDS γ, δ per output channel, least squares.
//    All stay within the DSConv format: b-bit VQK, one ξ per block, an affine per channel.
import { int, object, oneOf, or, describe } from '../../core/validate.js';
import type { DSConvPlugin, PluginLayer } from '../types.js';
import { type CalibrateOptions, type CalibrationMethod, type CalibrationReport, type LayerStats, type Runnable, CALIBRATION_METHODS, DEFAULT_SAMPLES } from './types.js';
import { floatConv, gather, outputNhwc, positions } from './samples.js';
import { fitLayer } from './fit.js';

export { type CalibrateOptions, type CalibrationMethod, type CalibrationReport, type LayerStats, type Runnable, CALIBRATION_METHODS, DEFAULT_SAMPLES } from './types.js';
export { MAX_HESSIAN } from './rounding.js';

/**
 * Calibrates the layers of an active plug-in on `images` (a tensor batch the model accepts, e.g.
 * [N, H, W, 3]): fits VQK/KDS/CDS per the options and installs them in the plug-in. Returns the
 * per-layer statistics. The plug-in's layers must not already be calibrated (start from data-free).
 */
export async function calibrate(plugin: DSConvPlugin, model: Runnable, images: unknown, options: CalibrateOptions = {}): Promise<CalibrationReport> {
  if (!plugin || typeof plugin.observe !== 'function') throw new TypeError(`plugin must be the value useDSConv returned, got ${describe(plugin)}`);
  const run = typeof model === 'function' ? model : model && typeof (model as { predict?: unknown }).predict === 'function'
    ? (x: unknown) => (model as { predict(x: unknown): unknown }).predict(x) : null;
  if (!run) throw new TypeError(`model must be a tfjs model (with predict) or a function, got ${describe(model)}`);
  const shape = (images as { shape?: number[] })?.shape;
  if (!Array.isArray(shape) || shape.length < 1) throw new TypeError(`images must be a tf.Tensor batch, got ${describe(images)}`);
  const o = object('options', options);
  const methods = (o.methods === undefined ? CALIBRATION_METHODS : o.methods) as unknown[];
  if (!Array.isArray(methods)) throw new TypeError(`options.methods must be an array of 'cds', 'scales', 'rounding', got ${describe(methods)}`);
  methods.forEach((m, i) => oneOf(`options.methods[${i}]`, m, CALIBRATION_METHODS));
  const target = oneOf('options.target', or(o.target, 'network'), ['network', 'layer'] as const);
  const samples = int('options.samples', or(o.samples, DEFAULT_SAMPLES), 1);
  const seed = int('options.seed', or(o.seed, 1), 0, 2 ** 31);
  if (o.onLayer !== undefined && typeof o.onLayer !== 'function') throw new TypeError(`options.onLayer must be a function, got ${describe(o.onLayer)}`);

  const targets = new Map<PluginLayer, { pos: Int32Array; y: Float32Array }>();
  const report: LayerStats[] = [];
  const dispose = (t: unknown) => {
    for (const v of Array.isArray(t) ? t : [t]) (v as { dispose?: () => void })?.dispose?.();
  };

  // Pass 1: float network; keep the targets at the sampled positions.
  plugin.observe((call) => {
    const y = floatConv(call);
    if (!targets.has(call.layer)) {
      const pos = positions(call, samples, seed + call.layer.info.index);
      targets.set(call.layer, { pos, y: gather(outputNhwc(call, y), pos, call.options.outChannels) });
    }
    return y;
  });
  try {
    dispose(await Promise.resolve(run(images)));
    // Pass 2: quantized, fitting each layer when it first runs.
    const done = new Set<PluginLayer>();
    plugin.observe((call) => {
      if (done.has(call.layer) || !call.layer.settings) return undefined;
      done.add(call.layer);
      const stats = fitLayer(plugin, call, methods as CalibrationMethod[], target, targets.get(call.layer)!);
      report.push(stats.stats);
      (o.onLayer as CalibrateOptions['onLayer'])?.(stats.stats);
      return stats.output;
    });
    dispose(await Promise.resolve(run(images)));
  } finally {
    plugin.observe(null);
  }
  return { layers: report, images: shape[0] };
}
