// The package in a real browser: bundled with esbuild (and, separately, unbundled through an
// import map) into a page served from 127.0.0.1 under a strict Content-Security-Policy (no eval),
// loaded by a headless browser, running the same seeded layers as this Node process. DSConv
// outputs must match Node's bit for bit, the float conv within float rounding. Then the benchmark
// page of `npm run bench:web`, in the same browser. The browser is Chromium (the npm package's, or
// $CHROMIUM_PATH), or Firefox when DSCONV_TEST_BROWSER=firefox (`npm run test:firefox`); if it is
// missing or cannot start, this test fails. One browser serves every test here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { init, getInfo, DSConv2d, Conv2d, conv2d } from 'dsconv';
import { bundle, serve, launchBrowser, browserName, root, waitInPage } from '../../tools/web.mjs';
import { benchRoutes, runHeadless, WASM_FILES } from '../../tools/bench-web.mjs';
import { runBench, dsconvEngines, selectLayers, benchJson, DSCONV_ENGINES, PEER_ENGINES } from 'dsconv/bench';
import { runCases } from '../fixtures/cross-cases.js';

// wasm-unsafe-eval allows compiling WebAssembly and nothing else: eval and new Function stay blocked.
const csp = (extra = '') => `default-src 'none'; script-src 'self' 'wasm-unsafe-eval'${extra}; connect-src 'self'`;
const HTML = '<!doctype html><meta charset="utf-8"><title>dsconv test</title><script type="module" src="/dist/core/page.js"></script>';
// Cross-origin isolation, which shared memory (and so threads) needs in a page.
const ISOLATED = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
// Asked for explicitly: 'auto' is half the cores, one on a 2-core machine.
const THREADS = Math.max(2, Math.min(4, availableParallelism()));
// No bundler: the page maps 'dsconv' to the package's own dist/core/index.js (whose imports are all relative).
const NONCE = 'f0e1d2c3';
const RAW_HTML = `<!doctype html><meta charset="utf-8"><title>dsconv unbundled</title>
<script type="importmap" nonce="${NONCE}">{ "imports": { "dsconv": "/dist/core/index.js", "dsconv/reference": "/dist/reference/index.js" } }</script>
<script type="module" src="/fixtures/browser-page.js"></script>`;

// Per engine, how the bench page names the browser from its user agent (Firefox's gives the
// major version only: "Firefox/153.0").
const ENGINES = {
  chromium: { pageName: (name) => name },
  firefox: { pageName: (name) => name.replace(/\/(\d+).*$/, '/$1.0') },
};
const engine = process.env.DSCONV_TEST_BROWSER || 'chromium';
if (!ENGINES[engine]) throw new RangeError(`DSCONV_TEST_BROWSER must be one of ${Object.keys(ENGINES).join(', ')}, got ${JSON.stringify(engine)}`);
const expected = ENGINES[engine];
// The smallest module with a relaxed-SIMD opcode (i8x16.relaxed_swizzle of two zero vectors),
// written out here apart from the package's own check. The build init() should pick on its own
// is the relaxed one where the browser validates this (Chromium 143, Firefox 153; on x86 both
// pass the probe of its dot product), else the portable one (Firefox 140 ESR).
const RELAXED_MODULE = [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 43, 1, 41, 0,
  253, 12, ...new Array(16).fill(0), 253, 12, ...new Array(16).fill(0), 253, 128, 2, 11];

let browser, browserLabel, server, page, js;
const node = {};

async function setUp() {
  await init();
  node.build = getInfo().build;
  node.cases = runCases({ DSConv2d, Conv2d, conv2d });
  js = await bundle(`${root}test/fixtures/browser-page.js`);
  const routes = {
    '/': { body: HTML, type: 'text/html', headers: { 'content-security-policy': csp() } },
    // The published layout: the bundle beside dist/core/init.js, so its '../../build/x.wasm' finds the binaries.
    '/dist/core/page.js': { body: js, type: 'text/javascript' },
    '/raw': { body: RAW_HTML, type: 'text/html', headers: { 'content-security-policy': csp(` 'nonce-${NONCE}'`) } },
    '/isolated': { body: HTML, type: 'text/html', headers: { 'content-security-policy': csp(), ...ISOLATED } },
    '/raw-isolated': { body: RAW_HTML, type: 'text/html', headers: { 'content-security-policy': csp(` 'nonce-${NONCE}'`), ...ISOLATED } },
    // The pool's workers for the bundle: where its new URL('./worker.js', import.meta.url) points.
    // An isolated page's workers must be served with a compatible COEP, or the browser refuses them.
    '/dist/core/worker.js': { body: await bundle(`${root}dist/core/threads/worker.js`), type: 'text/javascript', headers: ISOLATED },
  };
  for (const name of readdirSync(`${root}dist`, { recursive: true }).filter((f) => f.endsWith('.js'))) {
    routes[`/dist/${name}`] = { body: readFileSync(`${root}dist/${name}`), type: 'text/javascript', headers: ISOLATED };
  }
  for (const name of ['browser-page.js', 'cross-cases.js']) {
    routes[`/fixtures/${name}`] = { body: readFileSync(`${root}test/fixtures/${name}`), type: 'text/javascript' };
  }
  for (const name of WASM_FILES) {
    const body = readFileSync(`${root}build/${name}`);
    routes[`/build/${name}`] = { body, type: 'application/wasm' };
    // The same bytes from a server that labels them wrongly: init() must still load them.
    routes[`/plain/${name}`] = { body, type: 'application/octet-stream' };
  }
  server = await serve(routes);
  browser = await launchBrowser(engine);
  browserLabel = await browserName(browser);
  page = await browser.newPage();
  await page.goto(`${server.url}/`);
  expected.build = await page.evaluate((bytes) => WebAssembly.validate(new Uint8Array(bytes)), RELAXED_MODULE) ? 'relaxed' : 'simd';
  // Firefox reports each blocked load as a page error too; the page's own list of violations is checked.
  page.on('pageerror', (e) => { if (!e.message.startsWith('Content-Security-Policy:')) console.error('page error:', e.message); });
}

// uvu drops an error thrown in test.before (its runner returns from a finally block) and reports
// 0 of N passed with exit status 0; so a browser that cannot start fails every test instead.
let setupError;
test.before(() => setUp().catch((e) => { setupError = e; }));
test.before.each(() => {
  if (setupError) throw setupError;
});

test.after(async () => {
  await browser?.close();
  await server?.close();
});

/** A fresh page load (init() runs once per page), then init(options) and the cases. */
async function inPage(options, path = '/') {
  await page.goto(`${server.url}${path}`);
  await waitInPage(page, () => typeof globalThis.dsconvTest === 'function');
  return page.evaluate((o) => globalThis.dsconvTest(o), options);
}

/** Integer-path cases bit for bit; float ones within 2^-20 of the largest output (a few ulps). */
function assertSameAsNode(got, label) {
  assert.equal(got.cases.map((c) => c.name), node.cases.map((c) => c.name));
  const f32 = (b) => new Float32Array(new Uint32Array(b).buffer);
  got.cases.forEach((c, i) => {
    const want = node.cases[i];
    assert.is(c.bits.length, want.bits.length, `${label}: ${c.name} length`);
    if (c.exact) {
      const at = c.bits.findIndex((v, j) => v !== want.bits[j]);
      assert.is(at, -1, `${label}: ${c.name} differs from Node (${node.build}) at ${at}`);
      return;
    }
    const a = f32(c.bits), b = f32(want.bits);
    const tol = 2 ** -20 * b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    let worst = 0;
    for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j] - b[j]));
    assert.ok(worst <= tol, `${label}: ${c.name} differs from Node by ${worst} > ${tol}`);
  });
  assert.ok(got.cases.some((c) => c.exact) && got.cases.some((c) => !c.exact));
}

test('the bundled package has no eval or new Function, and keeps the wasm URL pattern', async () => {
  const lib = await bundle({ contents: "export * from 'dsconv';" });
  assert.not.match(lib, /\beval\b|\bFunction\s*\(/);
  assert.ok(lib.includes('new URL("../../build/dsconv.wasm", import.meta.url)'));
  assert.ok(lib.includes('new URL("../../build/dsconv-relaxed.wasm", import.meta.url)'));
});

test(`auto: the build ${engine} can run (relaxed where it validates relaxed SIMD), streamed, same outputs as Node`, async () => {
  const got = await inPage({});
  assert.is(got.error, undefined);
  console.log(`    ${browserLabel}: build ${got.build}; Node ${process.version}: build ${node.build}`);
  assert.is(got.build, expected.build);
  assert.is(got.streamed, 1, 'application/wasm is compiled while it streams');
  assert.equal(got.violations, []);
  assert.is(got.evalBlocked, true, 'the page policy blocks eval');
  assertSameAsNode(got, 'auto');
});

test('unbundled: dist/ as published, imported through an import map, streamed, same outputs', async () => {
  const got = await inPage({}, '/raw');
  assert.is(got.error, undefined);
  assert.is(got.build, expected.build);
  assert.is(got.streamed, 1);
  assert.equal(got.violations, []);
  assertSameAsNode(got, 'unbundled');
});

test(`threads: a cross-origin isolated page runs on ${THREADS} threads, the main thread spinning, same outputs`, async () => {
  const got = await inPage({ threads: THREADS }, '/isolated');
  assert.is(got.error, undefined);
  assert.is(got.isolated, true);
  assert.is(got.threads, THREADS, got.threadsReason);
  assert.is(got.build, expected.build);
  assert.equal(got.violations, []);
  assertSameAsNode(got, 'threads');
});

test('threads unbundled: the workers load dist/core/threads/worker.js, found beside the module', async () => {
  const got = await inPage({ threads: 3 }, '/raw-isolated');
  assert.is(got.error, undefined);
  assert.is(got.threads, 3, got.threadsReason);
  assertSameAsNode(got, 'threads unbundled');
});

test('threads in a page that is not cross-origin isolated: one thread, and getInfo() says why', async () => {
  const got = await inPage({ threads: 2 });
  assert.is(got.error, undefined);
  assert.is(got.isolated, false);
  assert.is(got.threads, 1);
  assert.match(got.threadsReason, /^2 threads were asked for, 1 runs: the page is not cross-origin isolated/);
  assertSameAsNode(got, 'one thread');
});

test('build: simd forced in the browser gives the same outputs', async () => {
  const got = await inPage({ build: 'simd' });
  assert.is(got.build, 'simd');
  assertSameAsNode(got, 'simd');
});

test('wasmUrl relative to the page, served as application/octet-stream: read whole, not streamed', async () => {
  const got = await inPage({ wasmUrl: 'plain/dsconv.wasm' });
  assert.is(got.error, undefined);
  assert.is(got.build, 'simd');
  assert.is(got.streamed, 0);
  assertSameAsNode(got, 'octet-stream');
});

test('wasmBinary: bytes the page fetched itself', async () => {
  const got = await inPage({ binaryFrom: expected.build === 'relaxed' ? '/plain/dsconv-relaxed.wasm' : '/plain/dsconv.wasm' });
  assert.is(got.build, expected.build);
  assert.is(got.streamed, 0);
  assertSameAsNode(got, 'wasmBinary');
});

test('a wasmUrl that is not there: init() rejects naming the option, URL and status', async () => {
  const got = await inPage({ wasmUrl: { [expected.build]: '/missing.wasm' } });
  assert.is(got.error, `Error: dsconv could not fetch options.wasmUrl.${expected.build} from ${server.url}/missing.wasm: HTTP 404 Not Found`);
});

/**
 * runHeadless, tried once more when the page has not finished within 2 minutes (a short run takes
 * about 10 s). In Firefox, about one isolated run in ten stalls before its first progress line
 * while the worker starts nested workers: ORT's threads, which wait with no limit, or dsconv's
 * pool, which gives up after 30 s and runs on one thread (the first test below then fails on its
 * thread count). That startup is not what these tests check.
 */
async function runBenchPage(url, query, onLine) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runHeadless(browser, url, query, onLine, { timeout: 120_000 });
    } catch (e) {
      if (attempt === 2 || !/did not get ready within/.test(e.message)) throw e;
      console.warn(`the benchmark page stalled in ${browserLabel} (${e.message}); trying once more`);
    }
  }
}

test('the benchmark page: progress, table, chart, and the JSON of `dsconv bench --json`, with the peers', async () => {
  // A short run of one layer: what is checked is the page and the document, not the figures. The
  // peers are devDependencies, so all six engines run (each output checked against dsconv-f32's).
  const timing = { maxTime: 0.06, minTime: 0.005, minSamples: 2, warmTime: 0.02, warmCalls: 2 };
  const layers = selectLayers(['resnet18 7x7']);
  const bench = await serve(await benchRoutes());
  const lines = [];
  let got;
  try {
    got = await runBenchPage(bench.url, { layers: layers[0].name, threads: String(THREADS), ...timing }, (l) => lines.push(l));
  } finally {
    await bench.close();
  }
  const nodeDoc = benchJson(await runBench({ layers, engines: dsconvEngines(), ...timing }), { node: process.version, relaxed: node.build === 'relaxed' });
  const shape = (doc) => ({ keys: Object.keys(doc), types: [typeof doc.node, typeof doc.relaxed],
    results: doc.results.map((r) => ({ keys: Object.keys(r), layer: r.layer, macs: r.macs })) });
  const engines = [...DSCONV_ENGINES, ...PEER_ENGINES];
  assert.equal(shape(got.doc), shape({ ...nodeDoc, results: engines.map(() => nodeDoc.results[0]) }));
  assert.equal(got.doc.results.map((r) => r.engine), engines);
  assert.equal(got.engines, engines);
  assert.equal(got.unavailable, []);
  assert.is(got.doc.node, expected.pageName(browserLabel));
  assert.is(got.doc.relaxed, expected.build === 'relaxed');
  for (const r of got.doc.results) {
    assert.ok(r.ms > 0 && Number.isFinite(r.ms), `${r.engine} ms ${r.ms}`);
    assert.ok(Math.abs(r.gmacs - r.macs / r.ms / 1e6) <= 1e-9 * r.gmacs);
  }
  assert.equal(got.page, { bar: 1, rows: 6, bars: 6, download: true });
  assert.is(got.threads, THREADS, 'the page is isolated: its worker runs dsconv threaded');
  // ORT on dsconv's count; xnnpack-f32 on one (the page keeps tfjs-backend-wasm on its single-threaded build).
  assert.equal(got.doc.results.map((r) => r.threads), engines.map((e) => (e === 'xnnpack-f32' ? 1 : THREADS)));
  assert.ok(lines.some((l) => l.includes('ort-int8 timing, round 3/3')), 'progress reached the last round');
});

test('the benchmark page not cross-origin isolated: dsconv and ORT report the one thread they ran on; an unknown engine is refused', async () => {
  const routes = await benchRoutes();
  for (const r of Object.values(routes)) r.headers = {};
  const bench = await serve(routes);
  let got;
  try {
    await runHeadless(browser, bench.url, { layers: 'resnet18 7x7', engines: 'dsconv-int8,ort-int9' }).then(() => assert.unreachable('should have thrown'), (e) => {
      assert.is(e.message, `the benchmark page failed: RangeError: unknown engine "ort-int9"; engines are ${[...DSCONV_ENGINES, ...PEER_ENGINES].join(', ')}`);
    });
    got = await runBenchPage(bench.url, { layers: 'resnet18 7x7', engines: 'dsconv-int8,ort-int8', threads: '2', quick: '1',
      maxTime: 0.03, minTime: 0.005, minSamples: 2, warmTime: 0.01, warmCalls: 1 });
  } finally {
    await bench.close();
  }
  assert.equal(got.doc.results.map((r) => [r.engine, r.threads]), [['dsconv-int8', 1], ['ort-int8', 1]]);
  assert.is(got.threads, 1);
});

test.run();
