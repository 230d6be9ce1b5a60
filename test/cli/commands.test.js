// `dsconv quantize` and `dsconv eval` on a model from an npm package (@upscalerjs/default-model)
// with real photos: the bundle they write loads through the plug-in, eval reports every figure,
// and calibration and evaluation images must be disjoint.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeBundle, decodeArtifact } from 'dsconv/tfjs';
import { spawnSync } from 'node:child_process';
import { cli, photoDir, root, RDN_MODEL as MODEL } from './harness.js';

const tmp = mkdtempSync(join(tmpdir(), 'dsconv-cli-'));
const dirOf = (name, files) => photoDir(tmp, name, files);
const calDir = dirOf('cal', ['astronaut.png', 'coffee.png', 'rocket.jpg']);
const evalDir = dirOf('eval', ['chelsea.png', 'retina.jpg']);
const common = ['--model', MODEL, '--size', '24', '--range', '0,255'];

test('quantize writes a calibrated bundle; eval runs it and reports every figure', () => {
  const out = join(tmp, 'rdn.dsq');
  const q = cli('quantize', ...common, '--out', out, '--bits', '5', '--calibrate', calDir, '--calibrate-count', '2', '--samples', '128');
  assert.is(q.status, 0, q.stderr);
  assert.match(q.stdout, /calibrating on 2 unlabelled images/);
  assert.match(q.stdout, /12 convs \(0 kept float\)/);
  const b = decodeBundle(new Uint8Array(readFileSync(out)));
  assert.is(b.layers.length, 12);
  assert.ok(b.layers.every((l) => l.settings.bits === 5 && l.gamma && l.delta));
  assert.equal(b.meta.calibration.images, ['astronaut.png', 'coffee.png']);

  const json = join(tmp, 'eval.json');
  const e = cli('eval', ...common, '--images', evalDir, '--bundle', out, '--json', json);
  assert.is(e.status, 0, e.stderr);
  assert.match(e.stdout, /2 calibration images, none of them among these/);
  assert.match(e.stdout, /<- weakest/);
  const r = JSON.parse(readFileSync(json, 'utf8'));
  assert.is(r.images, 2);
  assert.is(r.layers.length, 12);
  assert.ok(r.layers.every((l) => l.kind === 'conv 5-bit' && l.sqnrDb > 15 && l.sqnrDb < 80), JSON.stringify(r.layers));
  assert.ok(r.logitsSqnrDb > 20 && r.logitsSqnrDb < 80, `output SQNR ${r.logitsSqnrDb}`);
  assert.ok(r.top1Agreement >= 0 && r.top1Agreement <= 1 && r.meanKL >= 0);
  // 5-bit weights at rest take one byte each, plus a float32 per scale and per CDS entry.
  const packed = b.layers.reduce((n, l) => n + l.q.length + 4 * (l.scales.length + l.gamma.length + l.delta.length), 0);
  const float32 = b.layers.reduce((n, l) => n + 4 * l.q.length, 0);
  assert.equal(r.weightBytes, { float32, packed, ratio: float32 / packed });
  assert.ok(r.msPerImage.float > 0 && r.msPerImage.dsconv > 0);
});

test('quantize --artifact writes the standalone model: the bundle\'s convs, no float conv weights, its size said', () => {
  const out = join(tmp, 'rdn4.dsq'), artifact = join(tmp, 'models', 'rdn4.dsqm');
  const q = cli('quantize', ...common, '--out', out, '--artifact', artifact, '--bits', '4');
  assert.is(q.status, 0, q.stderr);
  const bytes = readFileSync(artifact);
  assert.match(q.stdout, new RegExp(`standalone model ${bytes.length} B written to .*rdn4\\.dsqm: 0\\.1\\d\\dx the model's weight files \\(888300 B\\)`));
  const a = decodeArtifact(new Uint8Array(bytes));
  const biases = JSON.parse(readFileSync(MODEL, 'utf8')).weightsManifest[0].weights.filter((w) => w.name.endsWith('/bias'));
  assert.is(biases.length, 12);
  assert.is(a.sizes.weights, 4 * biases.reduce((n, w) => n + w.shape[0], 0), 'only the biases are stored as float');
  const [b, inArtifact] = [decodeBundle(new Uint8Array(readFileSync(out))), decodeBundle(a.bundle)];
  assert.ok(inArtifact.layers.every((l, i) => l.settings.bits === 4 && l.q.every((v, k) => v === b.layers[i].q[k])));
  const alone = cli('quantize', ...common, '--artifact', join(tmp, 'alone.dsqm'));
  assert.is(alone.status, 0, alone.stderr);
  assert.not.match(alone.stdout, /bundle .* written/);
  assert.match(cli('quantize', '--help').stdout, /--artifact model\.dsqm/);
});

test('quantize --calibrate streams the images 8 at a time, redrawing its bar after each conv with the time left', () => {
  const dir = dirOf('cal9', ['astronaut.png', 'brick.png', 'camera.png', 'cell.png', 'clock_motion.png', 'coffee.png', 'grass.png', 'gravel.png', 'rocket.jpg']);
  // stderr taken for a terminal: only there is the bar redrawn.
  const q = spawnSync(process.execPath, ['--import', 'data:text/javascript,process.stderr.isTTY=true', `${root}dist/cli/main.js`, 'quantize', ...common,
    '--out', join(tmp, 'rdn9.dsq'), '--calibrate', dir, '--calibrate-count', '9', '--samples', '72', '--methods', 'cds'], { encoding: 'utf8' });
  assert.is(q.status, 0, q.stderr);
  assert.match(q.stdout, /9 images in 2 batches; each conv fitted to the float conv on its input/);
  // A step per conv per image (one pass: target 'layer'), then one per conv for the report.
  const bars = q.stderr.split('\r').filter((s) => s.startsWith('calibrating'));
  assert.is(bars.length, 2 * 12 + 12);
  assert.match(bars[0], /^calibrating \[##\.{28}\] 8\/120 images 1-8 of 9, quantized, conv 1\/12, \d+:\d\d left/);
  assert.match(bars[23], /\] 108\/120 images 9-9 of 9, quantized, conv 12\/12, \d+:\d\d left/);
  assert.match(bars[35], /^calibrating \[#{30}\] 120\/120 report, done/);
});

test('eval refuses calibration images among the evaluation images', () => {
  const r = cli('eval', ...common, '--images', evalDir, '--calibrate', dirOf('cal2', ['chelsea.png']));
  assert.is(r.status, 2);
  assert.match(r.stderr, /calibration and evaluation images must be disjoint; shared: chelsea\.png/);
});

test('usage errors exit with status 2 and say why', () => {
  for (const [args, re] of [
    [['quantize', '--model', MODEL], /--out or --artifact is required/],
    [['quantize', '--out', 'x.dsq'], /--model is required/],
    [['quantize', ...common, '--out', 'x', '--bits', '9'], /--bits must be an integer in \[2, 8\], got 9/],
    [['eval', ...common], /--images is required/],
    [['eval', ...common, '--images', evalDir, '--frobnicate', '1'], /unknown option --frobnicate/],
    [['quantize', '--model', MODEL, '--out', join(tmp, 'y.dsq')], /does not fix its input size; give --size/],
  ]) {
    const r = cli(...args);
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  const help = cli('eval', '--help');
  assert.is(help.status, 0);
  assert.match(help.stdout, /must be\s+disjoint/);
});

test.run();
