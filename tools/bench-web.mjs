#!/usr/bin/env node
// `npm run bench:web`: the benchmark page (web/), bundled with esbuild and served on 127.0.0.1.
// With --headless it is run in headless Chromium and its JSON (the shape `dsconv bench --json`
// writes) is printed or written, so browser and Node figures can be compared.
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundle, serve, launchChromium, root } from './web.mjs';

const USAGE = `usage: npm run bench:web -- [--port N] [--headless] [--quick] [--layers A,B] [--layout NHWC|NCHW]
                           [--engines dsconv-int4,dsconv-int8,dsconv-f32] [--build simd|relaxed]
                           [--json FILE] [--svg FILE]

Serves the benchmark page on 127.0.0.1 and prints its URL (Ctrl-C stops it). The page runs the
suite of \`dsconv bench\` on this package's engines in a worker and shows progress, a table, a bar
chart and the JSON; the options above preset it. --headless runs it in headless Chromium
(/usr/bin/chromium or $CHROMIUM_PATH) instead, prints the table, and writes the JSON to FILE (or
prints it). Needs \`npm run build\`.`;

/** The page's files: HTML, page and worker bundles (in dist/core/, beside build/ as published), wasm. */
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
  for (const name of ['dsconv.wasm', 'dsconv-relaxed.wasm']) {
    routes[`/build/${name}`] = { body: readFileSync(`${root}build/${name}`), type: 'application/wasm', headers };
  }
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
    await page.waitForFunction(() => globalThis.benchDone !== undefined, null, { timeout: 0, polling: 250 });
    const done = await page.evaluate(() => globalThis.benchDone);
    if (done.error) throw new Error(`the benchmark page failed: ${done.error}`);
    return { ...done, page: { bar: await page.$eval('#bar', (b) => b.value), rows: await page.$$eval('#table tbody tr', (r) => r.length),
      bars: await page.$$eval('#chart svg rect.bar', (r) => r.length), download: await page.$eval('#download', (a) => !a.closest('#offer').hidden && a.href.startsWith('blob:')) } };
  } finally {
    await page.close();
  }
}

function parseArgs(argv) {
  const a = { port: 0, headless: false, query: {} };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new RangeError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--headless') a.headless = true;
    else if (flag === '--quick') a.query.quick = '1';
    else if (flag === '--port') {
      a.port = Number(value());
      if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new RangeError(`--port must be an integer in [0, 65535], got ${argv[i]}`);
    } else if (flag === '--layers') a.query.layers = value();
    else if (flag === '--layout') a.query.layout = value();
    else if (flag === '--engines') a.query.engines = value();
    else if (flag === '--build') a.query.build = value();
    else if (flag === '--json') a.json = value();
    else if (flag === '--svg') a.svg = value();
    else if (flag === '--help' || flag === '-h') a.help = true;
    else throw new RangeError(`unknown option ${flag}`);
  }
  if ((a.json || a.svg) && !a.headless) throw new RangeError('--json and --svg need --headless (the page offers the JSON itself)');
  return a;
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

async function main(argv) {
  const a = parseArgs(argv);
  if (a.help) {
    console.log(USAGE);
    return;
  }
  const server = await serve(await benchRoutes(), { port: a.port });
  if (!a.headless) {
    const preset = new URLSearchParams(a.query).toString();
    console.log(`dsconv bench page: ${server.url}/${preset ? `?${preset}` : ''}`);
    console.log('Open it in a browser; Ctrl-C stops the server.');
    return;
  }
  const browser = await launchChromium();
  try {
    process.stderr.write(`dsconv bench in Chromium ${browser.version()}, served at ${server.url}/\n`);
    const { doc, results, build } = await runHeadless(browser, server.url, a.query, (line) => process.stderr.write(line));
    const { benchSvg } = await import('../dist/bench/index.js');
    console.log(`${doc.node}, ${build === 'relaxed' ? 'relaxed-SIMD' : 'portable SIMD'} build`);
    console.log(table(results));
    const text = `${JSON.stringify(doc, null, 1)}\n`;
    if (a.json) write(a.json, text);
    else console.log(text);
    if (a.svg) write(a.svg, benchSvg(results, { machine: `Chromium ${browser.version()}`, node: '-', note: `${build} build` }).replace('Node -, ', ''));
  } finally {
    await browser.close();
    await server.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`bench:web: ${e.message}`);
    if (e instanceof RangeError) console.error(`\n${USAGE}`);
    process.exitCode = e instanceof RangeError ? 2 : 1;
  });
}
