// What the browser test and the benchmark page share: bundling an entry with esbuild, a static
// server on 127.0.0.1, and headless Chromium. Development tooling only; not part of the package.
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Bundles `entry` (an ES module that may import 'dsconv') into one browser ES module, in memory.
 * The package's `new URL('../../build/….wasm', import.meta.url)` is kept as it is (esbuild does not
 * rewrite that pattern), so the bundle must be served from where dist/core/ is, two folders below
 * build/'s parent.
 */
export async function bundle(entry, { minify = false, define = {} } = {}) {
  const esbuild = await import('esbuild');
  const out = await esbuild.build({
    // A file, or { contents } for source resolved from the package root.
    ...(typeof entry === 'string' ? { entryPoints: [entry] } : { stdin: { contents: entry.contents, resolveDir: root } }),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify,
    define,
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0].text;
}

/**
 * Serves `routes` ({ '/path': { body, type, headers? } }) on 127.0.0.1, at `port` or a free one.
 * Anything else is a 404. Returns { url, close }.
 */
export async function serve(routes, { port = 0 } = {}) {
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const route = routes[path];
    if (!route || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': route.type, 'cache-control': 'no-store', ...route.headers });
    res.end(req.method === 'HEAD' ? undefined : route.body);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}

/** The Chromium to drive: $CHROMIUM_PATH, else Debian's /usr/bin/chromium. */
export function chromiumPath() {
  return process.env.CHROMIUM_PATH || '/usr/bin/chromium';
}

/**
 * Starts headless Chromium through playwright-core, with a fresh profile (Playwright makes a
 * temporary --user-data-dir for every launch). Throws with the fix when it is missing or fails.
 */
export async function launchChromium() {
  const executablePath = chromiumPath();
  if (!existsSync(executablePath)) {
    throw new Error(`Chromium not found at ${executablePath}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  const { chromium } = await import('playwright-core');
  try {
    return await chromium.launch({
      executablePath,
      headless: true,
      timeout: 60_000,
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--no-first-run', '--disable-quic', '--disable-sync',
      ],
    });
  } catch (e) {
    throw new Error(`Chromium at ${executablePath} did not start: ${e.message}`, { cause: e });
  }
}
