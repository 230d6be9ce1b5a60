// The benchmark page: picks layers, runs the suite in a worker (web/bench-worker.js), and shows a
// progress bar, the results table, the bar chart (src/bench-report.ts's SVG) and the JSON that
// `dsconv bench --json` writes, so browser and Node figures can be compared. Query parameters
// start it without a click: ?run=1&quick=1&layers=7x7,dw&layout=NHWC&build=simd&threads=2
// &engines=dsconv-int4,ort-int8 (default: all, the peers that could not load left out and named)
// (and, for tests, the runner's maxTime, minTime, minSamples, warmTime, warmCalls). When done,
// globalThis.benchDone holds { doc, results, build, threads, engines, unavailable } or { error }.
import './benchmark-host.js';
import { SUITE, ROUNDS, benchJson, benchSvg } from 'dsconv/bench';

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);

/** "Chromium/156.0.8078.108" or the like: the JSON's `node` field names the engine that ran. */
function uaName() {
  const ua = navigator.userAgent;
  const m = ua.match(/(HeadlessChrome|Edg|Chrome|Firefox)\/([\d.]+)/) ?? ua.match(/Version\/([\d.]+).*(Safari)/);
  if (!m) return ua;
  return m[2] === 'Safari' ? `Safari/${m[1]}` : `${m[1]}/${m[2]}`;
}
// Chromium's user agent string gives only the major version; the client hints give all of it.
const browser = await (navigator.userAgentData?.getHighEntropyValues(['fullVersionList'])
  .then(({ fullVersionList }) => {
    const b = fullVersionList.find((x) => /^(Chromium|Google Chrome|Microsoft Edge)$/.test(x.brand));
    return b && `${b.brand.replace(/ /g, '')}/${b.version}`;
  })
  .catch(() => undefined)) ?? uaName();
const browserName = () => browser;

/** Sends a line to the headless runner, when there is one (puppeteer's exposeFunction). */
const report = (line) => globalThis.benchProgress?.(line);

const layerBoxes = SUITE.map((l) => {
  const label = document.createElement('label');
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.value = l.name;
  box.checked = true;
  label.append(box, ` ${l.name} (${(l.macs / 1e6).toFixed(0)} MMAC)`);
  $('layers').append(label);
  return box;
});
if (query.has('layers')) {
  const terms = query.get('layers').split(',').map((t) => t.trim().toLowerCase());
  for (const box of layerBoxes) box.checked = terms.some((t) => box.value.toLowerCase() === t || box.value.toLowerCase().includes(t));
}
if (query.get('layout')) $('layout').value = query.get('layout').toUpperCase();
$('quick').checked = query.get('quick') === '1';
const env = `${browserName()}, ${navigator.hardwareConcurrency ?? '?'} logical cores, `
  + `${globalThis.crossOriginIsolated ? '5 µs timer, cross-origin isolated' : '100 µs timer, not cross-origin isolated (one thread)'}; batch 1, in a worker`;
$('env').textContent = `${env}.`;

function cell(row, text, numeric) {
  const td = document.createElement('td');
  td.textContent = text;
  if (numeric) td.className = 'n';
  row.append(td);
}

/** The engines each figure is also given relative to (its ms over the engine's), as in tools/bench-web.mjs. */
const BASELINES = ['dsconv-f32', 'ort-int8', 'ort-f32'];

/** One layer's results, a row each. */
function addRows(results) {
  results.forEach((r, i) => {
    const row = document.createElement('tr');
    cell(row, i === 0 ? r.layer : '');
    cell(row, r.engine);
    cell(row, String(r.threads), true);
    cell(row, r.ms.toFixed(3), true);
    cell(row, r.gmacs.toFixed(1), true);
    for (const base of BASELINES) {
      const b = results.find((x) => x.engine === base);
      cell(row, b ? `${(b.ms / r.ms).toFixed(2)}x` : '-', true);
    }
    cell(row, r.rme.toFixed(1), true);
    $('table').tBodies[0].append(row);
  });
}

/** "dsconv 2 threads, ort 2 threads, xnnpack 1 thread": what each family of engines ran on. */
function threadNote(results) {
  const counts = new Map(results.map((r) => [r.engine.split('-')[0], r.threads]));
  return [...counts].map(([family, n]) => `${family} ${n} thread${n === 1 ? '' : 's'}`).join(', ');
}

function drawChart(results, note) {
  // benchSvg escapes every text it places, so the string is safe markup. Its subtitle names a
  // Node version; here the browser, in `machine`, takes that place.
  $('chart').innerHTML = benchSvg(results, { machine: `${browserName()} (${navigator.hardwareConcurrency ?? '?'} logical cores)`, node: '-', note })
    .replace('Node -, ', '');
}

function run() {
  const layers = layerBoxes.filter((b) => b.checked).map((b) => b.value);
  if (!layers.length) {
    $('status').textContent = 'Pick at least one layer.';
    return;
  }
  const layout = $('layout').value;
  const quick = $('quick').checked;
  const asked = query.get('engines')?.split(',').map((e) => e.trim());
  let engines = [];
  const timing = {};
  for (const k of ['maxTime', 'minTime', 'minSamples', 'warmTime', 'warmCalls']) if (query.has(k)) timing[k] = Number(query.get(k));
  $('start').disabled = true;
  $('table').tBodies[0].replaceChildren();
  $('chart').replaceChildren();
  $('offer').hidden = $('json').hidden = true;
  let perLayer = 0;
  const results = [];
  const started = performance.now();
  const worker = new Worker(new URL('./bench-worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = ({ data }) => {
    if (data.type === 'start') {
      engines = data.engines;
      perLayer = engines.length * (2 + ROUNDS);
      const missing = data.unavailable.map((u) => `${u.id} (unavailable: ${u.reason})`);
      $('env').textContent = `${env}; engines ${[...engines, ...missing].join(', ')} take turns over ${ROUNDS} rounds after a warm-up, each figure the median of all samples.`;
    } else if (data.type === 'progress') {
      const total = layers.length * perLayer;
      const p = data.p;
      const e = engines.indexOf(p.engine);
      const step = p.layerIndex * perLayer + (p.stage === 'time' ? 2 * engines.length + (p.round - 1) * engines.length + e : 2 * e + (p.stage === 'warm' ? 1 : 0));
      $('bar').value = step / total;
      const what = p.stage === 'time' ? `timing, round ${p.round}/${p.rounds}` : p.stage === 'warm' ? 'warming up' : 'preparing';
      $('status').textContent = `[${p.layerIndex + 1}/${p.layerCount}] ${p.layer}: ${p.engine} ${what}`;
      report(`${$('status').textContent}\n`);
    } else if (data.type === 'layer') {
      results.push(...data.results);
      addRows(data.results);
      drawChart(results, `${layout}${quick ? ', quick run' : ''}, so far`);
      for (const r of data.results) report(`  ${r.layer} ${r.engine}: ${r.ms.toFixed(3)} ms, ${r.gmacs.toFixed(1)} GMAC/s\n`);
    } else if (data.type === 'done') {
      worker.terminate();
      const note = `${data.build === 'relaxed' ? 'relaxed-SIMD' : 'portable SIMD'} build, ${threadNote(data.results)}`
        + `${data.threadsReason ? ` (dsconv: ${data.threadsReason})` : ''}, ${layout}${quick ? ', quick run' : ''}`;
      drawChart(data.results, note);
      const doc = benchJson(data.results, { node: browserName(), relaxed: data.build === 'relaxed' });
      const text = `${JSON.stringify(doc, null, 1)}\n`;
      $('json').textContent = text;
      $('download').href = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
      $('offer').hidden = $('json').hidden = false;
      $('bar').value = 1;
      $('status').textContent = `Done in ${((performance.now() - started) / 1e3).toFixed(1)} s: ${note}.`;
      $('start').disabled = false;
      globalThis.benchDone = { doc, results: data.results, build: data.build, threads: data.threads, engines, unavailable: data.unavailable };
    } else {
      worker.terminate();
      $('status').textContent = data.message;
      $('status').className = 'error';
      $('start').disabled = false;
      globalThis.benchDone = { error: data.message };
    }
  };
  worker.onerror = (e) => worker.onmessage({ data: { type: 'error', message: `the worker failed: ${e.message}` } });
  const threads = query.get('threads') ? Number(query.get('threads')) : undefined;
  worker.postMessage({ layers, layout, quick, engines: asked, timing, build: query.get('build') ?? undefined, threads });
}

$('form').addEventListener('submit', (e) => {
  e.preventDefault();
  run();
});
if (query.get('run') === '1') run();
