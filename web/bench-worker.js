// The benchmark page's worker: runs the Node benchmark's runner (src/bench/) on this package's
// engines and the peers of `dsconv bench` (onnxruntime-web, tfjs-backend-wasm), off the page's
// thread, so the page keeps drawing while calls are timed back to back.
import './benchmark-host.js';
import { runBench, dsconvEngines, loadPeers, peerModules, selectLayers, selectEngines, SUITE, ALL_ENGINES, PEER_ENGINES } from 'dsconv/bench';
import { init, getInfo } from 'dsconv';
import { PEER_URLS } from './peer-urls.js';

// Absolute URLs on the page's origin: import() takes no bare package name here.
const at = (path) => new URL(path, self.location.href).href;
peerModules.ort = at(PEER_URLS.ort);
peerModules.ortWasmPaths = at(PEER_URLS.ortWasmPaths);
peerModules.tfCore = peerModules.tfWasm = at(PEER_URLS.tf);

self.onmessage = async ({ data }) => {
  try {
    // As `dsconv bench --engines`: known names only, run in the suite's order.
    const named = data.engines ? selectEngines(data.engines) : ALL_ENGINES;
    await init({ ...(data.build ? { build: data.build } : {}), ...(data.threads ? { threads: data.threads } : {}) });
    // ORT is asked for dsconv's count; a peer named in `engines` must load, one picked by default may be unavailable.
    const { engines: peers, unavailable } = await loadPeers(named.filter((id) => PEER_ENGINES.includes(id)), data.engines !== undefined,
      data.threads ?? getInfo().threads);
    const engines = [...dsconvEngines(data.layout).filter((e) => named.includes(e.id)), ...peers];
    self.postMessage({ type: 'start', engines: engines.map((e) => e.id), unavailable });
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
    self.postMessage({ type: 'done', results, unavailable, build: info.build, threads: info.threads, threadsReason: info.threadsReason });
  } catch (e) {
    self.postMessage({ type: 'error', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  }
};
