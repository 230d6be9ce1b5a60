// The benchmark page's worker: runs the Node benchmark's runner (src/bench/) on this package's
// engines, off the page's thread, so the page keeps drawing while calls are timed back to back.
import './benchmark-host.js';
import { runBench, dsconvEngines, selectLayers, SUITE } from 'dsconv/bench';
import { init, getInfo } from 'dsconv';

self.onmessage = async ({ data }) => {
  try {
    await init({ ...(data.build ? { build: data.build } : {}), ...(data.threads ? { threads: data.threads } : {}) });
    const engines = dsconvEngines(data.layout).filter((e) => !data.engines || data.engines.includes(e.id));
    // The timing settings of `dsconv bench` (and of --quick), unless the page overrides them.
    const timing = data.quick ? { maxTime: 0.3, minTime: 0.02, minSamples: 3 } : { maxTime: 1 };
    const results = await runBench({
      layers: data.layers ? selectLayers(data.layers) : SUITE,
      engines,
      ...timing,
      ...data.timing,
      onProgress: (p) => self.postMessage({ type: 'progress', p: { ...p, layer: p.layer.name } }),
      onLayer: (results) => self.postMessage({ type: 'layer', results }),
    });
    const info = getInfo();
    self.postMessage({ type: 'done', results, build: info.build, threads: info.threads, threadsReason: info.threadsReason });
  } catch (e) {
    self.postMessage({ type: 'error', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  }
};
