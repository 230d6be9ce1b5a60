// What `dsconv quantize` and `dsconv eval` check before their slow work: every output can be
// written (its folder made if missing), the model is a file or a folder holding model.json; and
// an image that does not decode names its file, or is left out with --skip-unreadable.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { decodeBundle } from 'dsconv/tfjs';
import { cli, RDN_MODEL_DIR as MODEL_DIR, RDN_MODEL as MODEL } from './harness.js';

const tmp = mkdtempSync(join(tmpdir(), 'dsconv-inputs-'));
const common = ['--size', '24', '--range', '0,255'];

/** A 32x32 RGBA pattern, seeded so each image differs. */
function pixels(seed) {
  const data = Buffer.alloc(32 * 32 * 4);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + seed * 101 + ((i >> 7) * 13)) & 255;
  return data;
}
const png = (seed) => { const p = new PNG({ width: 32, height: 32 }); pixels(seed).copy(p.data); return PNG.sync.write(p); };
const jpg = (seed) => jpeg.encode({ width: 32, height: 32, data: pixels(seed) }, 90).data;

// a.png and c.png decode; b.jpg is cut off half way, as an interrupted download leaves it.
const images = join(tmp, 'images');
mkdirSync(images);
writeFileSync(join(images, 'a.png'), png(1));
writeFileSync(join(images, 'b.jpg'), jpg(2).subarray(0, 300));
writeFileSync(join(images, 'c.png'), png(3));
const aFile = join(tmp, 'a-file');
writeFileSync(aFile, '');

test('an output that cannot be written fails at once, naming the flag, before any model or image is read', () => {
  for (const args of [
    ['quantize', '--model', MODEL, ...common, '--out', join(aFile, 'x.dsq'), '--calibrate', images],
    ['eval', '--model', MODEL, ...common, '--images', images, '--json', join(aFile, 'r.json')],
  ]) {
    const r = cli(...args);
    const flag = args[0] === 'quantize' ? '--out' : '--json';
    assert.is(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^dsconv ${args[0]}: ${flag} \\S+: \\S+a-file is a file, not a folder`), r.stderr);
    assert.is(r.stdout, '', 'no work was done');
  }
  const dir = cli('quantize', '--model', MODEL, ...common, '--out', tmp);
  assert.is(dir.status, 2);
  assert.match(dir.stderr, /--out \S+ is a folder; give a file name/);
});

test('--out in folders that do not exist yet: made first; --model may name the model\'s folder', () => {
  const out = join(tmp, 'new', 'deeper', 'rdn.dsq');
  const r = cli('quantize', '--model', MODEL_DIR, ...common, '--out', out);
  assert.is(r.status, 0, r.stderr);
  assert.is(decodeBundle(new Uint8Array(readFileSync(out))).layers.length, 12);
  // A folder without model.json is named as such (it used to be a raw EISDIR).
  const empty = join(tmp, 'no-model');
  mkdirSync(empty);
  const e = cli('quantize', '--model', empty, ...common, '--out', join(tmp, 'y.dsq'));
  assert.is(e.status, 1);
  assert.match(e.stderr, /^dsconv quantize: \S+no-model is a folder with no model\.json in it/);
  assert.not.match(e.stderr, /EISDIR/);
});

test('a truncated JPEG names its file and stops the run; --skip-unreadable leaves it out and says so', () => {
  const out = join(tmp, 'cal.dsq');
  const cal = ['--calibrate', images, '--calibrate-count', '2', '--samples', '64', '--methods', 'cds'];
  const stop = cli('quantize', '--model', MODEL, ...common, '--out', out, ...cal);
  assert.is(stop.status, 1);
  assert.match(stop.stderr, /^dsconv quantize: \S+b\.jpg is not a readable JPEG \(truncated or corrupt\): [^\n]+; --skip-unreadable leaves such images out\n$/);
  assert.not.ok(existsSync(out));
  const skip = cli('quantize', '--model', MODEL, ...common, '--out', out, ...cal, '--skip-unreadable');
  assert.is(skip.status, 0, skip.stderr);
  assert.match(skip.stderr, new RegExp(`skipped 1 unreadable image in ${images.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: b\\.jpg\\n`));
  // The next readable image took its place.
  assert.equal(decodeBundle(new Uint8Array(readFileSync(out))).meta.calibration.images, ['a.png', 'c.png']);
});

test.run();
