// Calibration with unlabelled inputs, through the TF.js plug-in. The images come as one tensor or
// in batches, and each batch is run twice:
// 1. float: every replaced conv runs this package's float32 Conv2d; at a seeded sample of output
//    positions per image the pre-activation outputs are kept (the float network's targets);
// 2. quantized, in execution order: each conv adds the BFP-dequantized inputs it reads at those
//    positions, and the targets, to its running statistics, is refitted on everything so far
//    whenever that has grown fourfold since its last fit, and runs; the convs after it see its
//    calibrated outputs. Between calls only the statistics are kept (stats.ts), so memory does not
//    grow with the number of images; the last fit, on the call with the last images, uses every
//    image. With one call per conv this is the layer-by-layer calibration of a single pass. The fits:
//    - 'rounding': data-aware choice of the VQK integers, error-compensating in the manner of
//      GPTQ/OBQ (columns quantized in turn, the error of each spread over the columns not yet
//      quantized through the inverse Hessian of the layer's inputs), with the KDS held fixed;
//    - 'scales': least-squares refit of every KDS ξ of an output channel jointly (ridge towards
//      the data-free ξ) given the integers;
//    - 'cds': the CDS γ, δ per output channel, least squares.
//    All stay within the DSConv format: b-bit VQK, one ξ per block, an affine per channel.
import { int, knownOptions, object, oneOf, or, describe } from '../../core/validate.js';
import type { DSConvPlugin } from '../types.js';
import { type CalibrateOptions, type CalibrationMethod, type CalibrationReport, type Runnable, CALIBRATION_METHODS, DEFAULT_BATCH_SIZE, DEFAULT_SAMPLES } from './types.js';
import { batches, knownBatches, knownCount } from './source.js';
import { Calibration } from './calibration.js';

export {
  type CalibrateOptions, type CalibrationMethod, type CalibrationProgress, type CalibrationReport, type LayerStats, type Runnable,
  CALIBRATION_METHODS, DEFAULT_SAMPLES, DEFAULT_BATCH_SIZE,
} from './types.js';
export { MAX_HESSIAN } from './rounding.js';

const OPTION_KEYS = ['methods', 'target', 'samples', 'seed', 'batchSize', 'count', 'onLayer', 'onProgress'];

/**
 * Calibrates the layers of an active plug-in on `images`: a tensor batch the model accepts (e.g.
 * [N, H, W, 3]), an array, iterable or async iterable of such batches, or a function returning
 * one (e.g. an async generator function). Fits VQK/KDS/CDS per the options and installs them in
 * the plug-in. Returns the per-layer statistics. The plug-in's layers must not already be
 * calibrated (start from data-free).
 */
export async function calibrate(plugin: DSConvPlugin, model: Runnable, images: unknown, options: CalibrateOptions = {}): Promise<CalibrationReport> {
  if (!plugin || typeof plugin.observe !== 'function') throw new TypeError(`plugin must be the value useDSConv returned, got ${describe(plugin)}`);
  const predict = (model as { predict?: unknown } | null)?.predict;
  if (typeof model !== 'function' && typeof predict !== 'function') throw new TypeError(`model must be a tfjs model (with predict) or a function, got ${describe(model)}`);
  const known = knownCount(images);
  const o = object('options', options);
  knownOptions('options', o, OPTION_KEYS);
  const methods = (o.methods === undefined ? CALIBRATION_METHODS : o.methods) as unknown[];
  if (!Array.isArray(methods)) throw new TypeError(`options.methods must be an array of 'cds', 'scales', 'rounding', got ${describe(methods)}`);
  methods.forEach((m, i) => oneOf(`options.methods[${i}]`, m, CALIBRATION_METHODS));
  const samples = int('options.samples', or(o.samples, DEFAULT_SAMPLES), 1);
  const seed = int('options.seed', or(o.seed, 1), 0, 2 ** 31);
  const batchSize = int('options.batchSize', or(o.batchSize, DEFAULT_BATCH_SIZE), 1);
  // The float network's outputs are a sound target only if each conv sees every image in one
  // call: refitted as the images come, each layer would learn to correct the errors the layers
  // before it made at the time, not those they make once fitted (docs/BENCHMARKS.md measures it).
  const oneCall = knownBatches(images) === 1 && known !== undefined && known <= batchSize;
  const target = oneOf('options.target', or(o.target, oneCall ? 'network' : 'layer'), ['network', 'layer'] as const);
  for (const k of ['onLayer', 'onProgress'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'function') throw new TypeError(`options.${k} must be a function, got ${describe(o[k])}`);
  }
  let count = known;
  if (o.count !== undefined) {
    const c = int('options.count', o.count, 1);
    if (known !== undefined && c !== known) throw new RangeError(`options.count is ${c} but images holds ${known} images`);
    count = c;
  }
  if (count === undefined) {
    throw new TypeError('options.count is required when images is an iterator or a function: the number of images it will yield, to spread options.samples over them');
  }

  // A layers model's predict runs its input in chunks of batchSize (a graph model ignores it):
  // each chunk is a call of each conv, and what the convs keep between calls is their statistics.
  const run = typeof model === 'function' ? (x: unknown) => (model as (x: unknown) => unknown)(x)
    : (x: unknown) => (predict as (x: unknown, c: unknown) => unknown).call(model, x, { batchSize });
  const cal = new Calibration(plugin, {
    methods: methods as CalibrationMethod[], target, samples, seed, count, onProgress: o.onProgress as CalibrateOptions['onProgress'],
  });
  const dispose = (t: unknown) => {
    for (const v of Array.isArray(t) ? t : [t]) (v as { dispose?: () => void })?.dispose?.();
  };
  try {
    for await (const x of batches(images)) {
      if (target === 'network') {
        cal.begin('float', x.shape[0]);
        plugin.observe((call) => cal.float(call));
        dispose(await Promise.resolve(run(x)));
      }
      cal.begin('quantized', x.shape[0]);
      plugin.observe((call) => cal.quantized(call));
      dispose(await Promise.resolve(run(x)));
      plugin.observe(null);
      cal.end();
    }
  } finally {
    plugin.observe(null);
  }
  const layers = cal.finish();
  for (const s of layers) (o.onLayer as CalibrateOptions['onLayer'])?.(s);
  return { layers, images: cal.imageCount, batches: cal.batches, target };
}
