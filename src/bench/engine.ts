// What the runner times: an engine builds its layer from a suite layer's data and runs it.
import type { Layout } from '../core/geometry.js';
import type { LayerData } from './suite.js';

/** Weight bytes an engine holds for a layer, and what that figure counts. */
export interface Resident {
  bytes: number;
  note: string;
}

/** An engine set up for one layer. */
export interface EngineInstance {
  /** One call as a user pays it, on the input in the engine's layout; a Promise where the engine's API is asynchronous. */
  run(): void | Promise<unknown>;
  /** The output of one call, NCHW, for the correctness check. */
  output(): Float32Array | Promise<Float32Array>;
  resident(): Resident;
  dispose(): void | Promise<void>;
}

export interface Engine {
  id: string;
  /** Layout of the input it is given and the output it returns. */
  layout: Layout;
  /** What one timed call includes. */
  timing: string;
  /** Lowest SQNR (dB) against dsconv-f32 that counts as a correctly configured engine. */
  minSqnr: number;
  /** Threads one call runs on, as the engine reports it once set up. */
  threads(): number;
  /** Builds the engine's layer (weights packed here or on the first call, outside the timing). */
  create(data: LayerData): Promise<EngineInstance>;
}
