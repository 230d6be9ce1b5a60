// Where one forward() call's time goes, from the runtime's profile() of its wasm exports.
import { init } from '../core/init.js';
import { profile } from '../core/runtime.js';
import { EXPORTS, type ExportName, type ExportRole } from '../core/exports.js';
import type { Engine } from './engine.js';
import { type LayerSpec, SUITE, layerData } from './suite.js';
import { type Progress, now } from './runner.js';

/** Where one forward() call's time goes. */
export interface Breakdown {
  layer: string;
  engine: string;
  /** Mean ms per call. */
  ms: number;
  /** Mean ms per call in each phase; the phases sum to `ms`. */
  phases: Record<BreakdownPhase, number>;
}

export const BREAKDOWN_PHASES = ['nan scan', 'transpose', 'bfp', 'kernel', 'epilogue', 'copies + js'] as const;
export type BreakdownPhase = typeof BREAKDOWN_PHASES[number];

/** The phase of each export role; per-call weight dequantization counts as kernel time. */
const PHASE: Record<ExportRole, BreakdownPhase> = {
  check: 'nan scan', layout: 'transpose', bfp: 'bfp', conv: 'kernel', weights: 'kernel', epilogue: 'epilogue',
  setup: 'kernel', probe: 'kernel', linalg: 'kernel',
};

/**
 * Times the phases of this package's forward() for each layer and engine: the runtime's
 * profile() times every wasm export for the duration, and what is left of the call (copying the
 * input in and the output out, JavaScript) is 'copies + js'. The per-block float rescale of
 * DSConv runs inside its integer kernel, so it counts as 'kernel'; 'epilogue' is bias, ReLU and
 * the output layout. Averages `calls` calls after a warm-up.
 */
export async function runBreakdown(options: { layers?: readonly LayerSpec[]; engines: readonly Engine[]; calls?: number; onProgress?: (p: Progress) => void }): Promise<Breakdown[]> {
  await init();
  const out: Breakdown[] = [];
  const layers = options.layers ?? SUITE;
  for (const [layerIndex, spec] of layers.entries()) {
    const data = await layerData(spec);
    for (const engine of options.engines) {
      options.onProgress?.({ layer: spec, layerIndex, layerCount: layers.length, engine: engine.id, stage: 'time' });
      const inst = await engine.create(data);
      const calls = options.calls ?? Math.max(10, Math.min(200, Math.round(3e8 / spec.macs)));
      let total = 0;
      let timed;
      try {
        for (let i = 0; i < calls; i++) inst.run(); // warm-up
        timed = profile(() => {
          const t = now();
          for (let i = 0; i < calls; i++) inst.run();
          total = now() - t;
        });
      } finally {
        await inst.dispose();
      }
      const phases = Object.fromEntries(BREAKDOWN_PHASES.map((p) => [p, 0])) as Record<BreakdownPhase, number>;
      let inWasm = 0;
      for (const [name, ms] of Object.entries(timed.ms) as [ExportName, number][]) {
        phases[PHASE[EXPORTS[name].role]] += ms / calls;
        inWasm += ms / calls;
      }
      phases['copies + js'] = Math.max(0, total / calls - inWasm);
      out.push({ layer: spec.name, engine: engine.id, ms: total / calls, phases });
    }
  }
  return out;
}
