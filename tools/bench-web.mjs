#!/usr/bin/env node
// `npm run bench:web`: the benchmark page (web/), bundled with esbuild and served on 127.0.0.1.
// With --headless it is run in headless Chromium or Firefox and its JSON (the shape `dsconv bench
// --json` writes) is printed or written, so browser and Node figures can be compared.
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundle, serve, launchBrowser, browserName, BROWSERS, root, waitInPage } from './web.mjs';
import { PEER_URLS } from '../web/peer-urls.js';

const USAGE = `usage: npm run bench:web -- [--port N] [--headless] [--browser chromium|firefox] [--quick]
                           [--layers A,B] [--layout NHWC|NCHW] [--engines ID,...]
                           [--build simd|relaxed] [--threads N] [--json FILE] [--svg FILE]

Serves the benchmark page on 127.0.0.1 and prints its URL (Ctrl-C stops it). The page runs the
suite of \`dsconv bench\` in a worker, on this package's engines and the peers (dsconv-int4,
dsconv-int8, dsconv-f32, xnnpack-f32, ort-f32, ort-int8; default all, a peer whose package is not
installed left out unless named in --engines), and shows progress, a table, a bar chart and the
JSON; the options above preset it. --headless runs it in a headless browser instead, prints the
table, and writes the JSON to FILE (or prints it): --browser chromium (the default: the one npm ci
installs, or $CHROMIUM_PATH) or firefox (Debian's firefox-esr, or $FIREFOX_PATH). The page is
cross-origin isolated, so dsconv and onnxruntime-web run on dsconv's default threads (half the
cores, at most 4), or on --threads N; xnnpack-f32 runs on one. Needs \`npm run build\`.`;

/** The package's four binaries: portable and relaxed, each also threaded. */
export const WASM_FILES = ['dsconv.wasm', 'dsconv-relaxed.wasm', 'dsconv-threads.wasm', 'dsconv-relaxed-threads.wasm'];
/** tfjs-backend-wasm's three binaries (it picks one at run time), in its dist/. */
export const TFJS_WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

/** The page's files: HTML, page and worker bundles (in dist/core/, beside build/ as published), wasm, the pool's worker. */
export async function benchRoutes() {
  for (const f of ['dist/bench/index.js', 'build/dsconv.wasm']) {
    if (!existsSync(`${root}${f}`)) throw new Error(`${f} is missing: run npm run build first`);
  }
  // benchmark.js finds its host object through `global`; in a browser bundle that is globalThis.
  const define = { global: 'globalThis' };
  // Cross-origin isolation gives the page (and its worker) a 5 µs performance.now() instead of 100 µs.
  const headers = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
  const routes = {
    '/': { body: readFileSync(`${root}web/bench.html`), type: 'text/html', headers },
    '/dist/core/bench-page.js': { body: await bundle(`${root}web/bench-page.js`, { define }), type: 'text/javascript', headers },
    '/dist/core/bench-worker.js': { body: await bundle(`${root}web/bench-worker.js`, { define }), type: 'text/javascript', headers },
  };
  for (const name of WASM_FILES) {
    routes[`/build/${name}`] = { body: readFileSync(`${root}build/${name}`), type: 'application/wasm', headers };
  }
  // The pool's workers: where the worker bundle's new URL('./worker.js', import.meta.url) points.
  routes['/dist/core/worker.js'] = { body: await bundle(`${root}dist/core/threads/worker.js`), type: 'text/javascript', headers };
  Object.assign(routes, await peerRoutes(headers));
  return routes;
}

/**
 * The peers, where web/bench-worker.js looks for them (PEER_URLS), for those installed: ORT's
 * wasm-only module with its threaded glue and binary as it ships them (its pthreads are workers
 * of that glue, served isolated like the rest), and TF.js core with the wasm backend as one
 * bundle, so both of peers.ts's imports get the same tfjs, with the backend's binaries beside it.
 */
async function peerRoutes(headers) {
  const routes = {};
  const file = (path, type) => ({ body: readFileSync(path), type, headers });
  const ort = `${root}node_modules/onnxruntime-web/dist/`;
  if (existsSync(`${ort}ort.wasm.min.mjs`)) {
    routes[PEER_URLS.ort] = file(`${ort}ort.wasm.min.mjs`, 'text/javascript');
    routes[`${PEER_URLS.ortWasmPaths}ort-wasm-simd-threaded.mjs`] = file(`${ort}ort-wasm-simd-threaded.mjs`, 'text/javascript');
    routes[`${PEER_URLS.ortWasmPaths}ort-wasm-simd-threaded.wasm`] = file(`${ort}ort-wasm-simd-threaded.wasm`, 'application/wasm');
  }
  const tfWasm = `${root}node_modules/@tensorflow/tfjs-backend-wasm/dist/`;
  if (existsSync(`${root}node_modules/@tensorflow/tfjs-core/package.json`) && existsSync(tfWasm)) {
    // One thread, as in Node (peers.ts checks it): the flag keeps the backend off its threaded build.
    const contents = `import { env } from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
setWasmPaths(new URL('./', import.meta.url).href);
env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
export * from '@tensorflow/tfjs-core';`;
    routes[PEER_URLS.tf] = { body: await bundle({ contents }), type: 'text/javascript', headers };
    for (const name of TFJS_WASM_FILES) {
      routes[PEER_URLS.tf.replace(/[^/]*$/, name)] = file(`${tfWasm}${name}`, 'application/wasm');
    }
  }
  return routes;
}

/**
 * Opens the page in `browser` with `query` (see web/bench-page.js), waits for the run to end (at
 * most `timeout` ms; 0, the default: no limit) and returns globalThis.benchDone: { doc, results,
 * build, threads, engines, unavailable } and what the page shows. Progress lines, and the page's
 * errors and warnings (ORT's thread fallback is one), go to `onLine`.
 */
export async function runHeadless(browser, url, query, onLine = () => {}, { timeout = 0 } = {}) {
  const page = await browser.newPage();
  try {
    await page.exposeFunction('benchProgress', (line) => onLine(String(line)));
    page.on('pageerror', (e) => onLine(`page error: ${e.message}\n`));
    page.on('console', (m) => { if (m.type() === 'warn' || m.type() === 'error') onLine(`page ${m.type()}: ${m.text()}\n`); });
    await page.goto(`${url}/?${new URLSearchParams({ run: '1', ...query })}`);
    await waitInPage(page, () => globalThis.benchDone !== undefined, { timeout, every: 250 });
    const done = await page.evaluate(() => globalThis.benchDone);
    if (done.error) throw new Error(`the benchmark page failed: ${done.error}`);
    return { ...done, page: { bar: await page.$eval('#bar', (b) => b.value), rows: await page.$$eval('#table tbody tr', (r) => r.length),
      bars: await page.$$eval('#chart svg rect.bar', (r) => r.length), download: await page.$eval('#download', (a) => !a.closest('#offer').hidden && a.href.startsWith('blob:')) } };
  } finally {
    await page.close();
  }
}

/**
 * The command line, read by the dsconv CLI's own reader (util.parseArgs, strict; dist/cli/args.js)
 * so that both take and refuse flags alike. The page's options keep the order they were given in.
 */
function parseArgs(argv, { readFlags, int, text, UsageError }) {
  const f = readFlags(argv, {
    port: int(0, 65535), headless: 'boolean', browser: text, quick: 'boolean', layers: text, layout: text, engines: text, build: text,
    threads: int(1, 64), json: text, svg: text,
  });
  if ((f.json || f.svg || f.browser) && !f.headless) throw new UsageError('--json, --svg and --browser need --headless (the page offers the JSON itself)');
  if (f.browser !== undefined && !BROWSERS.includes(f.browser)) throw new UsageError(`--browser must be one of ${BROWSERS.join(', ')}, got ${f.browser}`);
  const query = {};
  for (const [k, v] of Object.entries(f)) {
    if (k === 'quick') query.quick = '1';
    else if (['layers', 'layout', 'engines', 'build', 'threads'].includes(k)) query[k] = String(v);
  }
  return { port: f.port ?? 0, headless: f.headless === true, browser: f.browser ?? 'chromium', query, json: f.json, svg: f.svg };
}

/** The page's table: threads, ms, GMAC/s and the speed relative to each baseline that ran (its ms over the engine's). */
function table(results) {
  const baselines = ['dsconv-f32', 'ort-int8', 'ort-f32'];
  const rows = [['layer', 'engine', 'threads', 'ms', 'GMAC/s', ...baselines.map((b) => `vs ${b}`), '±%']];
  for (const r of results) {
    const ratio = (base) => {
      const b = results.find((x) => x.layer === r.layer && x.engine === base);
      return b ? `${(b.ms / r.ms).toFixed(2)}x` : '-';
    };
    rows.push([r.layer, r.engine, String(r.threads), r.ms.toFixed(3), r.gmacs.toFixed(1), ...baselines.map(ratio), r.rme.toFixed(1)]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}

function write(file, text) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

/** Resolves with the exit status: 2 for a usage error, which is printed with the usage. */
async function main(argv) {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const cli = await import('../dist/cli/args.js');
  let a;
  try {
    a = parseArgs(argv, cli);
  } catch (e) {
    if (!(e instanceof cli.UsageError)) throw e;
    console.error(`bench:web: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  const server = await serve(await benchRoutes(), { port: a.port });
  if (!a.headless) {
    const preset = new URLSearchParams(a.query).toString();
    console.log(`dsconv bench page: ${server.url}/${preset ? `?${preset}` : ''}`);
    console.log('Open it in a browser; Ctrl-C stops the server.');
    return 0;
  }
  const browser = await launchBrowser(a.browser);
  try {
    const name = await browserName(browser);
    process.stderr.write(`dsconv bench in ${name}, served at ${server.url}/\n`);
    const { doc, results, build, threads, unavailable } = await runHeadless(browser, server.url, a.query, (line) => process.stderr.write(line));
    const { benchSvg } = await import('../dist/bench/index.js');
    console.log(`${doc.node}, ${build === 'relaxed' ? 'relaxed-SIMD' : 'portable SIMD'} build, dsconv on ${threads} thread${threads === 1 ? '' : 's'} (each engine's count is in the table)`);
    for (const u of unavailable) console.log(`${u.id} unavailable: ${u.reason}`);
    console.log(table(results));
    const text = `${JSON.stringify(doc, null, 1)}\n`;
    if (a.json) write(a.json, text);
    else console.log(text);
    if (a.svg) write(a.svg, benchSvg(results, { machine: name.replace('/', ' '), node: '-', note: `${build} build, dsconv on ${threads} threads` }).replace('Node -, ', ''));
  } finally {
    await browser.close();
    await server.close();
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => {
    console.error(`bench:web: ${e.message}`);
    process.exitCode = 1;
  });
}
