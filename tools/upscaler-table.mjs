// PSNR of the upscaler's golden pair (@upscalerjs/default-model: fixture.png -> 2x result.png)
// through the plug-in, data-free and calibrated with each combination of methods, per bit width.
// Calibration: 8 crops (48x48) of 4 photos from test/fixtures/photos/, never the fixture.
// Usage: node tools/upscaler-table.mjs   (after npm run build)
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { init } from 'dsconv';
import { useDSConv, calibrate } from 'dsconv/tfjs';
import { fileIO, readImage, cropSquare, psnr } from 'dsconv/files';

tf.env().set('IS_TEST', true);
await init();
await tf.setBackend('wasm');
const D = 'test/fixtures/photos/';
const UP = 'node_modules/@upscalerjs/default-model/';
const names = ['astronaut.png', 'coffee.png', 'chelsea.png', 'rocket.jpg'];
const SZ = 48, N = 8;
const ims = [];
for (let k = 0; ims.length < N; k++) for (const f of names) if (ims.length < N) ims.push(cropSquare(readImage(D + f), SZ, 0.25, (k * 0.37) % 1, (k * 0.61) % 1));
const cal = tf.tensor4d(Float32Array.from(ims.flatMap((i) => Array.from(i.data))), [N, SZ, SZ, 3]);
const model = await tfl.loadLayersModel(fileIO(UP + 'models/model.json'));
const fx = readImage(UP + 'assets/fixture.png'), gold = readImage(UP + 'assets/samples/2x/result.png');
const up = () => tf.tidy(() => tf.round(tf.clipByValue(model.predict(tf.tensor4d(fx.data, [1, fx.height, fx.width, 3])), 0, 255)).dataSync());
const methods = ['cds', 'scales', 'rounding', 'rounding,cds', 'rounding,scales,cds'];
console.log(`| bits | data-free | ${methods.join(' | ')} |`);
for (const bits of [8, 6, 5, 4]) {
  let p = useDSConv(tf, { bits });
  const row = [bits, psnr(gold.data, up()).toFixed(2)];
  p.restore();
  for (const m of methods) {
    p = useDSConv(tf, { bits });
    await calibrate(p, model, cal, { methods: m.split(','), samples: 2048 });
    row.push(psnr(gold.data, up()).toFixed(2));
    p.restore();
  }
  console.log(`| ${row.join(' | ')} |`);
}
