// Calibration's options and report.

export type CalibrationMethod = 'cds' | 'scales' | 'rounding';

/** Every method, in the order they are applied: the default. */
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['rounding', 'scales', 'cds'];

/** Output positions sampled per layer by default (over all the images). */
export const DEFAULT_SAMPLES = 4096;

/** Images per call of a layers model by default (its predict's batchSize): about 1 GB at 224x224. */
export const DEFAULT_BATCH_SIZE = 8;

export interface CalibrateOptions {
  /** What to fit, applied in the order rounding, scales, cds. Default ['rounding', 'scales', 'cds']. */
  methods?: CalibrationMethod[];
  /**
   * 'network': each layer is fitted to the float network's outputs at that layer, so it also
   * corrects the error of the layers before it; 'layer': to the float layer on the same input.
   * Default 'network' when each conv sees all the images in one call (one tensor of at most
   * batchSize images), else 'layer': fitted as the images come, a layer correcting the errors of
   * the layers before it corrects those they made at the time, not those of their final fits.
   */
  target?: 'network' | 'layer';
  /** Output positions sampled per layer, spread evenly over the images. Default 4096. */
  samples?: number;
  /** Seed of the position sampling. Default 1. */
  seed?: number;
  /** A layers model's batchSize (images per call, at most); a graph model or a function runs each batch as given. Default 8. */
  batchSize?: number;
  /**
   * How many images `images` yields, to spread `samples` over them: required when it is an
   * iterator or a function (a tensor or an array tells its own).
   */
  count?: number;
  /** Called with each layer's statistics once it is calibrated (at the end, in layer order). */
  onLayer?: (stats: LayerStats) => void;
  /** Called after each conv call of each pass, and after each final fit. */
  onProgress?: (progress: CalibrationProgress) => void;
}

/** Where calibration is: for progress bars and time estimates. */
export interface CalibrationProgress {
  /** 'float' and 'quantized': the two passes over a batch (only the second with target 'layer'); 'final': the report, after the images (and the last fits if the images ran out before `count`). */
  phase: 'float' | 'quantized' | 'final';
  target: 'network' | 'layer';
  /** The batch (0-based); the number of batches in 'final'. */
  batch: number;
  /** Images in the batches before this one, and in this one. */
  images: number;
  batchImages: number;
  /** The images expected in all (undefined if unknown). */
  count?: number;
  /** The conv just run or fitted (its plug-in index), and how many distinct convs this pass has run. */
  layer: number;
  layersDone: number;
  /** The convs the plug-in knows (all of them once the model has run: run it once first for a total). */
  layers: number;
}

/** Per-layer statistics at the sampled positions (pre-activation, float vs quantized). */
export interface LayerStats {
  index: number;
  name?: string;
  /** SQNR (dB) of the data-free DSConv layer and of the calibrated one, against the target. */
  sqnrBefore: number;
  sqnrAfter: number;
  /** Per output channel: mean and standard deviation of the target and of the calibrated output. */
  floatMean: Float32Array;
  floatStd: Float32Array;
  quantMean: Float32Array;
  quantStd: Float32Array;
  /** Positions used, and the images they were drawn from. */
  samples: number;
  images: number;
  /** Methods actually applied (rounding is skipped above MAX_HESSIAN inputs per group). */
  applied: CalibrationMethod[];
  /** How many times it was fitted (when its statistics had grown fourfold, and on the call with its last images). */
  fits: number;
  /** The earlier conv that reads the same input, whose input statistics (and Hessian) it shares. */
  sharedWith?: number;
}

export interface CalibrationReport {
  layers: LayerStats[];
  /** Images used, the batches they came in, and the target the layers were fitted to. */
  images: number;
  batches: number;
  target: 'network' | 'layer';
}

/** A model the plug-in runs: a tfjs LayersModel/GraphModel (`predict`) or a function. */
export type Runnable = { predict(x: unknown, config?: { batchSize?: number }): unknown } | ((x: unknown) => unknown);
