// What the TF.js browser tests (plugin.test.js, artifact.test.js) share: the wasm binaries a page
// with dsconv and tfjs-backend-wasm fetches, and a headless Chromium on the served page, with the
// suite's hooks around it.
import { readFileSync } from 'node:fs';
import { serve, launchBrowser, root, waitInPage } from '../../tools/web.mjs';
import { WASM_FILES, TFJS_WASM_FILES } from '../../tools/bench-web.mjs';

/** dsconv's binaries under /build/, tfjs-backend-wasm's under /tfjs-wasm/ (the page's setWasmPaths). */
export function wasmRoutes() {
  const routes = {};
  for (const name of WASM_FILES) routes[`/build/${name}`] = { body: readFileSync(`${root}build/${name}`), type: 'application/wasm' };
  for (const name of TFJS_WASM_FILES) {
    routes[`/tfjs-wasm/${name}`] = { body: readFileSync(`${root}node_modules/@tensorflow/tfjs-backend-wasm/dist/${name}`), type: 'application/wasm' };
  }
  return routes;
}

/**
 * The suite's hooks for one page: before the tests, `routes()` (async: it may prepare the models
 * too) is served with wasmRoutes(), '/' opened in Chromium and awaited until `ready()` there;
 * after them, the browser and the server are closed. Returns the session, whose `page` is set
 * once that is done. uvu drops an error thrown in test.before (browser.test.js says more), so a
 * set-up that fails makes every test fail instead.
 */
export function pageSession(test, routes, ready) {
  const session = {};
  let setupError;
  test.before(async () => {
    try {
      session.server = await serve({ ...await routes(), ...wasmRoutes() });
      session.browser = await launchBrowser('chromium');
      session.page = await session.browser.newPage();
      session.page.on('pageerror', (e) => console.error('page error:', e.message));
      await session.page.goto(session.server.url);
      await waitInPage(session.page, ready);
    } catch (e) {
      setupError = e;
    }
  });
  test.before.each(() => {
    if (setupError) throw setupError;
  });
  test.after(async () => {
    await session.browser?.close();
    await session.server?.close();
  });
  return session;
}
