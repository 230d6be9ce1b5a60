// The benchmark suite: CLI usage, the --json document's exact shape, the SVG chart, the phase
// breakdown, the peers' outputs against dsconv-f32, and the resident-memory claim. No timing is
// asserted: speed is what the benchmark shows, not what a test can promise.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { init, DSConv2d, sqnrDb } from 'dsconv';
import {
  SUITE, selectLayers, layerData, dsconvEngines, runBench, runBreakdown, convOptions,
  formatTable, benchJson, benchSvg, markdownTable, BREAKDOWN_PHASES, loadPeers, peerModules, PEER_ENGINES,
} from 'dsconv/bench';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = (...args) => spawnSync(process.execPath, [`${root}dist/cli/main.js`, ...args], { encoding: 'utf8' });
const layer = (name) => SUITE.find((l) => l.name === name);
const DW = 'mobilenetv2 14x14 576 dw3x3';

/** Well-formed XML, checked by a small tokenizer: every tag closed in order, attributes quoted, entities known. */
function checkXml(text) {
  const stack = [];
  const body = text.replace(/^<\?xml[^>]*\?>\s*/, '');
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->|([^<]+)|(<)/g;
  let m;
  let roots = 0;
  while ((m = re.exec(body))) {
    if (m[6]) throw new Error(`stray < at ${m.index}`);
    if (m[5] !== undefined) {
      if (/&(?!(lt|gt|amp|apos|quot|#\d+);)/.test(m[5])) throw new Error(`bad entity near ${m[5].slice(0, 40)}`);
      if (!stack.length && m[5].trim()) throw new Error('text outside the root element');
      continue;
    }
    if (m[0].startsWith('<!--')) continue;
    const [, close, name, , selfClose] = m;
    if (close) {
      if (stack.pop() !== name) throw new Error(`</${name}> closes the wrong element`);
    } else {
      if (!stack.length && ++roots > 1) throw new Error('more than one root element');
      if (!selfClose) stack.push(name);
    }
  }
  if (stack.length) throw new Error(`unclosed <${stack.at(-1)}>`);
  if (roots !== 1) throw new Error('no root element');
}

test('usage errors exit with status 2: the problem in one line, then where the usage is', () => {
  const cases = [
    ['frobnicate'], ['bench', '--layers', 'nope'], ['bench', '--engines', 'xnn'], ['bench', '--layout'],
    ['bench', '--layout', 'NCWH'], ['bench', '--bogus'], ['bench', '--json'], ['bench', '--svg', '--quick'],
  ];
  for (const args of cases) {
    const r = cli(...args);
    assert.is(r.status, 2, args.join(' '));
    assert.match(r.stderr, /\nRun 'dsconv (bench )?--help' for usage\.\n$/, args.join(' '));
    assert.not.match(r.stderr, /usage: dsconv bench/, args.join(' '));
  }
  assert.match(cli('bench', '--layers', 'nope').stderr, /no suite layer matches "nope"/);
  assert.match(cli('bench', '--engines', 'xnn').stderr, /unknown engine "xnn"/);
  const help = cli('bench', '--help');
  assert.is(help.status, 0);
  assert.match(help.stdout, /--breakdown/);
});

test('selectLayers: exact names, then whole runs of words from a word\'s start; an input size is only that', () => {
  assert.equal(selectLayers(['resnet18 7x7 512->512']).map((l) => l.name), ['resnet18 7x7 512->512']);
  assert.is(selectLayers(['resnet18']).length, 5);
  assert.is(selectLayers(['resnet']).length, 7);
  // "7x7" is the input size of one layer and the kernel of the stem: it means the input size.
  assert.equal(selectLayers(['7x7']).map((l) => l.name), ['resnet18 7x7 512->512']);
  assert.equal(selectLayers(['7x7 s2']).map((l) => l.name), ['stem 224x224 3->64 7x7 s2']);
  assert.equal(selectLayers(['56x56']).map((l) => l.name), SUITE.filter((l) => l.size === 56).map((l) => l.name));
  assert.equal(selectLayers(['1x1']).map((l) => l.name), ['resnet50 56x56 64->256 1x1', 'resnet50 14x14 1024->256 1x1', 'mobilenetv2 14x14 96->576 1x1']);
  assert.equal(selectLayers(['resnet18 7x7']).map((l) => l.name), ['resnet18 7x7 512->512']);
  // Inside a word is not a match: "x7" and "net18" were substrings of names.
  for (const t of ['x7', 'net18', '7x7 512->512 s2']) assert.throws(() => selectLayers([t]), RangeError, t);
  // Suite order, no duplicates, whatever the order of the terms.
  assert.equal(selectLayers(['dw', 'stem', 'DW']).map((l) => l.name), [DW, 'stem 224x224 3->64 7x7 s2']);
  assert.throws(() => selectLayers(['resnet19']), (e) => e instanceof RangeError && /resnet19/.test(e.message));
  assert.throws(() => selectLayers(['']), RangeError);
});

test('the suite: the layers of issue 3 and their MACs', () => {
  assert.is(SUITE.length, 11);
  assert.is(layer('resnet18 56x56 64->128 s2').macs, 28 * 28 * 128 * 64 * 9);
  assert.is(layer('stem 224x224 3->64 7x7 s2').macs, 112 * 112 * 64 * 3 * 49);
  assert.is(layer(DW).macs, 14 * 14 * 576 * 9);
  assert.is(layer('resnet50 14x14 1024->256 1x1').macs, 14 * 14 * 256 * 1024);
});

test('--json has exactly the documented shape; --svg is well-formed with one bar per layer and engine; --breakdown', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsconv-bench-'));
  const engines = ['dsconv-int4', 'dsconv-int8', 'dsconv-f32', 'xnnpack-f32'];
  const r = cli('bench', '--quick', '--layers', 'dw', '--engines', engines.join(','), '--json', join(dir, 'r.json'), '--svg', join(dir, 'r.svg'), '--markdown', join(dir, 'r.md'), '--breakdown');
  assert.is(r.status, 0, r.stderr);
  const doc = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'));
  assert.equal(Object.keys(doc), ['node', 'relaxed', 'results']);
  assert.is(doc.node, process.version);
  assert.type(doc.relaxed, 'boolean');
  assert.equal(doc.results.map((x) => x.engine), engines);
  for (const x of doc.results) {
    assert.equal(Object.keys(x), ['layer', 'macs', 'engine', 'threads', 'ms', 'gmacs']);
    assert.is(x.threads, 1, `${x.engine}: the default is one thread`);
    assert.is(x.layer, DW);
    assert.ok(Number.isInteger(x.macs) && x.macs === layer(DW).macs);
    assert.ok(x.ms > 0 && Number.isFinite(x.ms));
    assert.ok(Math.abs(x.gmacs - x.macs / x.ms / 1e6) < 1e-9 * x.gmacs);
  }
  const svg = readFileSync(join(dir, 'r.svg'), 'utf8');
  checkXml(svg);
  const bars = [...svg.matchAll(/<rect class="bar" data-layer="([^"]*)" data-engine="([^"]*)"/g)];
  assert.equal(bars.map((b) => b[2]), engines);
  assert.ok(bars.every((b) => b[1] === DW));
  assert.ok(svg.includes(`Node ${process.version}`));
  assert.ok(svg.includes(cpus()[0].model.trim().replace(/&/g, '&amp;')));
  const md = readFileSync(join(dir, 'r.md'), 'utf8').trim().split('\n');
  assert.is(md.length, 3);
  assert.is(md[2].split('|').length - 2, 2 + engines.length + 2); // layer, MMAC, engines, int4 and int8 vs xnnpack-f32
  assert.ok(md[2].startsWith('| mobilenetv2 14x14 576 dw3x3 | 1.0 |'));
  // The table names the layouts and the timing contract; the breakdown has one row per dsconv engine.
  assert.match(r.stdout, /layouts: dsconv NHWC, xnnpack NHWC, ort NCHW/);
  assert.match(r.stdout, /xnnpack-f32 +tensor from the input/);
  const breakdown = r.stdout.slice(r.stdout.indexOf("Where dsconv's forward()"));
  const rows = breakdown.split('\n').filter((l) => /dsconv-(int4|int8|f32)\s+[\d.]+/.test(l));
  assert.is(rows.length, 3);
  for (const row of rows) {
    const shares = row.trim().split(/\s+/).slice(-BREAKDOWN_PHASES.length).map(Number);
    const sum = shares.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 100) < 0.5, `${row}: shares sum to ${sum}`);
  }
  assert.match(dsconvEngines('NCHW')[0].timing, /NCHW->NHWC transpose/);
  assert.not.match(dsconvEngines('NHWC')[0].timing, /transpose/);
});

test('--threads N: dsconv and onnxruntime-web run on N threads, and each result says so', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsconv-bench-'));
  const r = cli('bench', '--quick', '--layers', 'resnet18 7x7', '--engines', 'dsconv-int8,ort-int8', '--threads', '2', '--json', join(dir, 'r.json'));
  assert.is(r.status, 0, r.stderr);
  const doc = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'));
  assert.equal(doc.results.map((x) => [x.engine, x.threads]), [['dsconv-int8', 2], ['ort-int8', 2]]);
  assert.match(r.stdout, /batch 1, 2 threads asked for/);
  assert.is(cli('bench', '--threads', '0').status, 2, '--threads is checked');
});

test('report functions: ratios to both baselines, JSON without extra keys, a bar per result', () => {
  const mk = (layer, engine, ms) => ({ layer, engine, macs: 1e6, ms, gmacs: 1e6 / ms / 1e6, rme: 1, prepMs: 1, resident: { bytes: 1, note: '' }, float32Bytes: 4, sqnr: 50, threads: 2 });
  const results = [mk('a 1', 'dsconv-int4', 1), mk('a 1', 'xnnpack-f32', 2), mk('a 1', 'ort-int8', 4), mk('b 2', 'dsconv-int4', 3)];
  const lines = formatTable(results).split('\n');
  assert.match(lines[1], /dsconv-int4\s+1\.000\s+1\.0\s+2\.00x\s+4\.00x/);
  assert.match(lines[3], /ort-int8\s+4\.000\s+0\.3\s+0\.50x\s+1\.00x/);
  assert.match(lines[4], /dsconv-int4\s+3\.000\s+0\.3\s+-\s+-/);
  assert.equal(benchJson(results, { node: 'v0', relaxed: true }).results[0], { layer: 'a 1', macs: 1e6, engine: 'dsconv-int4', threads: 2, ms: 1, gmacs: 1 });
  const md = markdownTable(benchJson(results, { node: 'v0', relaxed: false })).split('\n');
  assert.match(md[0], /\| int4 vs xnnpack-f32 \| int4 vs ort-int8 \|$/);
  assert.is(md[2], '| a 1 | 1.0 | 1.0 | 0.5 | 0.3 | 2.00x | 4.00x |');
  assert.is(md[3], '| b 2 | 1.0 | 0.3 | - | - | - | - |');
  const svg = benchSvg(results, { machine: 'M & <co>', node: 'v0' });
  checkXml(svg);
  assert.is(svg.match(/class="bar"/g).length, 4);
  assert.ok(svg.includes('M &amp; &lt;co&gt;'));
});

test('peers agree with dsconv-f32 (dense, stride 2 with padding, 1x1, depthwise)', async () => {
  const { engines, unavailable } = await loadPeers(PEER_ENGINES, true);
  assert.is(unavailable.length, 0);
  assert.equal(engines.map((e) => e.id), [...PEER_ENGINES]);
  for (const name of ['resnet18 56x56 64->128 s2', 'resnet50 14x14 1024->256 1x1', DW]) {
    const d = await layerData(layer(name));
    for (const e of engines) {
      const inst = await e.create(d);
      const y = await inst.output();
      await inst.dispose();
      assert.is(y.length, d.reference.length, `${e.id} ${name}`);
      const s = sqnrDb(d.reference, y);
      assert.ok(s >= e.minSqnr, `${e.id} on ${name}: SQNR ${s.toFixed(1)} dB < ${e.minSqnr}`);
      // The f32 peers are float convolutions; the int8 one is not exact but close.
      assert.ok(e.id === 'ort-int8' ? s < 60 : s > 80, `${e.id} on ${name}: SQNR ${s}`);
    }
  }
});

test('a misconfigured engine is an error, not a figure', async () => {
  const [f32] = dsconvEngines().filter((e) => e.id === 'dsconv-f32');
  const wrong = {
    ...f32, id: 'wrong',
    async create(d) {
      const inst = await f32.create(d);
      return { ...inst, output: async () => (await inst.output()).map((v, i) => (i % 7 ? v : v + 1)) };
    },
  };
  try {
    await runBench({ layers: [layer(DW)], engines: [wrong], maxTime: 0.01, warmTime: 0 });
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.match(e.message, /wrong on mobilenetv2 .*disagrees with dsconv-f32/);
  }
});

test('a missing peer is unavailable, or an error naming the package when asked for; both say what to install', async () => {
  const saved = peerModules.ort;
  peerModules.ort = 'dsconv-no-such-module';
  try {
    const { engines, unavailable } = await loadPeers(['ort-f32'], false);
    assert.is(engines.length, 0);
    // Not Node's "Cannot find package ... imported from ...": the install command.
    assert.equal(unavailable, [{ id: 'ort-f32', reason: 'not installed: npm install onnxruntime-web' }]);
    await loadPeers(['ort-int8'], true).then(() => assert.unreachable('should have thrown'), (e) => {
      assert.is(e.message, 'engine ort-int8 needs onnxruntime-web; not installed: npm install onnxruntime-web');
    });
  } finally {
    peerModules.ort = saved;
  }
});

test('outputs are checked before the run: --json where no folder can be made fails at once, naming the flag', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsconv-bench-'));
  writeFileSync(join(dir, 'file'), '');
  const r = cli('bench', '--quick', '--layers', '7x7', '--engines', 'dsconv-f32', '--svg', join(dir, 'ok.svg'), '--json', join(dir, 'file', 'r.json'));
  assert.is(r.status, 1, r.stderr);
  assert.is(r.stderr, `dsconv bench: --json ${join(dir, 'file', 'r.json')}: ${join(dir, 'file')} is a file, not a folder (ENOTDIR)\n`);
  assert.is(r.stdout, '', 'nothing was timed');
});

test('runBreakdown: phases sum to the call, and DSConv spends time in BFP and its kernel', async () => {
  const engines = dsconvEngines('NCHW');
  const [b, f] = await runBreakdown({ layers: [layer('resnet18 7x7 512->512')], engines: [engines[0], engines[2]], calls: 3 });
  assert.is(b.engine, 'dsconv-int4');
  assert.is(f.engine, 'dsconv-f32');
  for (const r of [b, f]) {
    const sum = BREAKDOWN_PHASES.reduce((s, p) => s + r.phases[p], 0);
    assert.ok(Math.abs(sum - r.ms) < 1e-6 * r.ms + 1e-9);
  }
  for (const p of ['transpose', 'bfp', 'kernel', 'epilogue']) assert.ok(b.phases[p] > 0, p);
  assert.ok(b.phases.kernel > b.phases.epilogue);
  // DSConv checks its input for NaN inside the BFP pass; the float conv scans it on its own.
  assert.is(b.phases['nan scan'], 0);
  assert.ok(f.phases['nan scan'] > 0);
  assert.is(f.phases.bfp, 0);
});

test('4-bit layers keep at most 0.25x the float32 weight bytes; 8-bit ones 1 byte plus a scale per 32', async () => {
  await init();
  // Dense layers with at least B = 32 input channels. Not the stem (3 input channels: each
  // float32 scale covers 3 weights, not 32) nor depthwise layers (int8 weights in memory and,
  // with the paper's blocks, a scale per weight): the README lists their figures.
  const dense = SUITE.filter((l) => l.groups === 1 && l.inChannels >= 32);
  assert.is(dense.length, 9);
  for (const spec of dense) {
    const n = spec.outChannels * spec.inChannels * spec.kernel ** 2;
    const w = new Float32Array(n).map((_, i) => Math.sin(i));
    const options = convOptions(spec, new Float32Array(spec.outChannels));
    for (const [bits, bound] of [[4, 0.25], [8, 1 / 4 + 1 / 32]]) {
      const l = DSConv2d.fromFloat(w, { ...options, bits });
      const weights = l.residentBytes;
      assert.ok(weights <= bound * 4 * n, `${spec.name} ${bits}-bit: ${weights} B resident > ${bound} x ${4 * n}`);
      assert.ok(weights >= l.weightBytes.total, `${spec.name}: the resident weights are the packed ones`);
      // The first call adds the per-input-shape buffers (indirection, epilogue), not weights.
      l.forward(new Float32Array(spec.inChannels * spec.size ** 2), { height: spec.size, width: spec.size });
      assert.ok(l.residentBytes > weights);
      l.dispose();
    }
  }
});

test.run();
