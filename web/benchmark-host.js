// What benchmark.js 2.1.4 expects of its host, for a browser bundle; import it before benchmark.js.
// - It loads lodash and platform through a require() wrapper that bundlers cannot see, then falls
//   back to globals of those names.
// - Its only browser timer is Date (1 ms steps); it takes process.hrtime where there is one. This
//   one reads performance.now(), 5 µs steps in a cross-origin-isolated page (the server sends
//   COOP/COEP for that) and 100 µs otherwise, so short calls are timed as finely as in Node.
import lodash from 'lodash';
import platform from 'platform';

globalThis._ = lodash;
globalThis.platform = platform;
if (globalThis.process === undefined) {
  globalThis.process = {
    hrtime(prev) {
      const t = performance.now();
      const s = Math.floor(t / 1e3);
      const ns = Math.round((t - s * 1e3) * 1e6);
      if (!prev) return [s, ns];
      const d = ns - prev[1];
      return d < 0 ? [s - prev[0] - 1, d + 1e9] : [s - prev[0], d];
    },
  };
}
