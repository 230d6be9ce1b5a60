// dsconv/files: images that do not decode are errors naming the file, and a model may be given by
// its folder.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { decodeImage, readImage, fileIO, readModelJson } from 'dsconv/files';

const root = fileURLToPath(new URL('../..', import.meta.url));
const MODEL_DIR = `${root}node_modules/@upscalerjs/default-model/models`;
const tmp = mkdtempSync(join(tmpdir(), 'dsconv-files-'));

const rgba = Buffer.alloc(16 * 16 * 4).map((_, i) => (i * 29) & 255);
const pngBytes = (() => { const p = new PNG({ width: 16, height: 16 }); rgba.copy(p.data); return PNG.sync.write(p); })();
const jpgBytes = jpeg.encode({ width: 16, height: 16, data: rgba }, 90).data;

test('whole images decode; cut off ones are RangeErrors naming the file and the format', () => {
  assert.is(decodeImage(new Uint8Array(pngBytes), 'ok.png').data.length, 16 * 16 * 3);
  assert.is(decodeImage(new Uint8Array(jpgBytes), 'ok.jpg').width, 16);
  for (const [name, bytes, kind] of [['cut.png', pngBytes, 'PNG'], ['cut.jpg', jpgBytes, 'JPEG']]) {
    for (const keep of [bytes.length - 10, bytes.length >> 1, 40]) {
      assert.throws(() => decodeImage(new Uint8Array(bytes.subarray(0, keep)), name),
        (e) => e instanceof RangeError && e.message.startsWith(`${name} is not a readable ${kind} (truncated or corrupt): `), `${name} cut to ${keep} bytes`);
    }
  }
  const file = join(tmp, 'photo.jpg');
  writeFileSync(file, jpgBytes.subarray(0, 200));
  assert.throws(() => readImage(file), (e) => e instanceof RangeError && e.message.startsWith(`${file} is not a readable JPEG`));
});

test('fileIO and readModelJson take a model folder for its model.json; a folder without one is named', async () => {
  const byFolder = await fileIO(MODEL_DIR).load();
  const byFile = await fileIO(`${MODEL_DIR}/model.json`).load();
  assert.equal(byFolder.modelTopology, byFile.modelTopology);
  assert.equal(new Uint8Array(byFolder.weightData), new Uint8Array(byFile.weightData));
  assert.equal(readModelJson(MODEL_DIR), readModelJson(`${MODEL_DIR}/model.json`));
  const empty = join(tmp, 'empty');
  mkdirSync(empty);
  assert.throws(() => fileIO(empty), (e) => e instanceof RangeError && e.message === `${empty} is a folder with no model.json in it; give the model's .json (or .js) file`);
});

test.run();
