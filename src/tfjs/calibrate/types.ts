// Calibration's options and report.

export type CalibrationMethod = 'cds' | 'scales' | 'rounding';

/** Every method, in the order they are applied: the default. */
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['rounding', 'scales', 'cds'];

/** Output positions sampled per layer by default. */
export const DEFAULT_SAMPLES = 4096;

export interface CalibrateOptions {
  /** What to fit, applied in the order rounding, scales, cds. Default ['rounding', 'scales', 'cds']. */
  methods?: CalibrationMethod[];
  /**
   * 'network' (default): each layer is fitted to the float network's outputs at that layer, so it
   * also corrects the error of the layers before it; 'layer': to the float layer on the same input.
   */
  target?: 'network' | 'layer';
  /** Output positions sampled per layer for the fits. Default 4096. */
  samples?: number;
  /** Seed of the position sampling. Default 1. */
  seed?: number;
  /** Called after each layer is calibrated. */
  onLayer?: (stats: LayerStats) => void;
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
  /** Positions used. */
  samples: number;
  /** Methods actually applied (rounding is skipped above MAX_HESSIAN inputs per group). */
  applied: CalibrationMethod[];
}

export interface CalibrationReport {
  layers: LayerStats[];
  images: number;
}

/** A model the plug-in runs: a tfjs LayersModel/GraphModel (`predict`) or a function. */
export type Runnable = { predict(x: unknown): unknown } | ((x: unknown) => unknown);
