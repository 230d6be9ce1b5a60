// What the TF.js browser tests (plugin.test.js, artifact.test.js) share: the wasm binaries a page
// with dsconv and tfjs-backend-wasm fetches, and a headless Chromium on a served page, ready once
// `ready` (run in the page) says so.
import { readFileSync } from 'node:fs';
import { serve, launchBrowser, root, waitInPage } from '../../tools/web.mjs';
import { WASM_FILES } from '../../tools/bench-web.mjs';

/** dsconv's binaries under /build/, tfjs-backend-wasm's under /tfjs-wasm/ (the page's setWasmPaths). */
export function wasmRoutes() {
  const routes = {};
  for (const name of WASM_FILES) routes[`/build/${name}`] = { body: readFileSync(`${root}build/${name}`), type: 'application/wasm' };
  for (const name of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) {
    routes[`/tfjs-wasm/${name}`] = { body: readFileSync(`${root}node_modules/@tensorflow/tfjs-backend-wasm/dist/${name}`), type: 'application/wasm' };
  }
  return routes;
}

/** Serves `routes` (plus wasmRoutes()), opens '/' in Chromium and waits until `ready()` there. */
export async function openPage(routes, ready) {
  const server = await serve({ ...routes, ...wasmRoutes() });
  const browser = await launchBrowser('chromium');
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(server.url);
  await waitInPage(page, ready);
  return { server, browser, page };
}
