#!/usr/bin/env node
// `npm run bench:web`: the benchmark page (web/), bundled with esbuild and served on 127.0.0.1.
// With --headless it is run in headless Chromium or Firefox and its JSON (the shape `dsconv bench
// --json` writes) is printed or written, so browser and Node figures can be compared.
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundle, serve, launchBrowser, browserName, BROWSERS, root } from './web.mjs';

const USAGE = `usage: npm run bench:web -- [--port N] [--headless] [--browser chromium|firefox] [--quick]
                           [--layers A,B] [--layout NHWC|NCHW] [--engines dsconv-int4,dsconv-int8,dsconv-f32]
                           [--build simd|relaxed] [--threads N] [--json FILE] [--svg FILE]

Serves the benchmark page on 127.0.0.1 and prints its URL (Ctrl-C stops it). The page runs the
suite of \`dsconv bench\` on this package's engines in a worker and shows progress, a table, a bar
chart and the JSON; the options above preset it. --headless runs it in a headless browser instead,
prints the table, and writes the JSON to FILE (or prints it): --browser chromium (the default:
the one npm ci installs, or $CHROMIUM_PATH) or firefox (Debian's firefox-esr, or $FIREFOX_PATH).
The page is cross-origin isolated, so dsconv runs on its default threads (min(4, cores)), or on
--threads N. Needs \`npm run build\`.`;

/** The package's four binaries: portable and relaxed, each also threaded. */
export const WASM_FILES = ['dsconv.wasm', 'dsconv-relaxed.wasm', 'dsconv-threads.wasm', 'dsconv-relaxed-threads.wasm'];

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
  return routes;
}

/**
 * Opens the page in `browser` with `query` (see web/bench-page.js), waits for the run to end and
 * returns globalThis.benchDone: { doc, results, build }. Progress lines go to `onLine`.
 */
export async function runHeadless(browser, url, query, onLine = () => {}) {
  const page = await browser.newPage();
  try {
    await page.exposeFunction('benchProgress', (line) => onLine(String(line)));
    page.on('pageerror', (e) => onLine(`page error: ${e.message}\n`));
    await page.goto(`${url}/?${new URLSearchParams({ run: '1', ...query })}`);
    await page.waitForFunction(() => globalThis.benchDone !== undefined, { timeout: 0, polling: 250 });
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

/** ms, GMAC/s and the speed relative to dsconv-f32 (the peers of `dsconv bench` are not in the page). */
function table(results) {
  const rows = [['layer', 'engine', 'ms', 'GMAC/s', 'vs dsconv-f32', '±%']];
  for (const r of results) {
    const f = results.find((x) => x.layer === r.layer && x.engine === 'dsconv-f32');
    rows.push([r.layer, r.engine, r.ms.toFixed(3), r.gmacs.toFixed(1), f ? `${(f.ms / r.ms).toFixed(2)}x` : '-', r.rme.toFixed(1)]);
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
    const { doc, results, build, threads } = await runHeadless(browser, server.url, a.query, (line) => process.stderr.write(line));
    const { benchSvg } = await import('../dist/bench/index.js');
    console.log(`${doc.node}, ${build === 'relaxed' ? 'relaxed-SIMD' : 'portable SIMD'} build, ${threads} thread${threads === 1 ? '' : 's'}`);
    console.log(table(results));
    const text = `${JSON.stringify(doc, null, 1)}\n`;
    if (a.json) write(a.json, text);
    else console.log(text);
    if (a.svg) write(a.svg, benchSvg(results, { machine: name.replace('/', ' '), node: '-', note: `${build} build, ${threads} threads` }).replace('Node -, ', ''));
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
