// `dsconv/tfjs`: the TensorFlow.js plug-in, calibration and model bundles. Runs anywhere tfjs
// does; the Node-only file helpers are in `dsconv/files`.
export { useDSConv } from './plugin.js';
export {
  KERNELS, type KernelName, type LayerInfo, type UseDSConvOptions, type PluginLayer, type ConvCall, type DSConvPlugin, type TfLike,
} from './types.js';
export type { QuantSettings } from '../core/options.js';
export { toOIHW } from './adapters.js';
export {
  calibrate, MAX_HESSIAN, CALIBRATION_METHODS, DEFAULT_SAMPLES, DEFAULT_BATCH_SIZE,
  type CalibrateOptions, type CalibrationReport, type CalibrationProgress, type LayerStats, type CalibrationMethod, type Runnable,
} from './calibrate/index.js';
export { decodeBundle, encodeBundle, BUNDLE_VERSION, type Bundle, type BundleLayer } from './bundle.js';
export { findBatchNormFolds, foldFactors, type BatchNormFold, type FoldFactors, type TensorRef } from './fold.js';
export { findActivationFolds, type ActivationFold } from './fold-activation.js';
export { findPaddingFolds, type PaddingFold } from './fold-padding.js';
export { encodeArtifact, decodeArtifact, ARTIFACT_VERSION, type DecodedArtifact, type ModelArtifactsLike, type WeightSpec } from './artifact.js';
export { loadQuantizedModel, type LoadQuantizedOptions, type QuantizedModel, type LoadTfLike } from './load.js';
