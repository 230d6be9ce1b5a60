// Writes 224x224 PNG crops of the real photos in test/fixtures/photos/: a calibration set and an
// evaluation set of 64 crops each, cut from disjoint photos (6 each; a photo gives 10 or 11 crops
// of differing size and place). Usage: node tools/photo-crops.mjs OUTDIR
import { writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { readImage, cropSquare } from 'dsconv/files';
const D = fileURLToPath(new URL('../test/fixtures/photos/', import.meta.url));
const sets = {
  cal: ['astronaut.png', 'coffee.png', 'rocket.jpg', 'camera.png', 'grass.png', 'clock_motion.png'],
  eval: ['chelsea.png', 'hubble_deep_field.jpg', 'retina.jpg', 'gravel.png', 'brick.png', 'cell.png'],
};
const CROPS = 64;
const out = process.argv[2] ?? '/tmp/photos';
for (const [name, files] of Object.entries(sets)) {
  mkdirSync(`${out}/${name}`, { recursive: true });
  const ims = files.map((f) => readImage(D + f));
  for (let j = 0; j < CROPS; j++) {
    // Crop k of photo fi; scale and place cycle with periods 4 and 10, so no crop repeats.
    const fi = j % files.length, k = Math.floor(j / files.length);
    const c = cropSquare(ims[fi], 224, [1, 0.75, 0.55, 0.4][k % 4], ((k * 37 + fi) % 10) / 9, ((k * 53 + 3 * fi) % 10) / 9);
    const png = new PNG({ width: 224, height: 224 });
    for (let p = 0; p < 224 * 224; p++) { for (let ch = 0; ch < 3; ch++) png.data[4 * p + ch] = Math.round(c.data[3 * p + ch]); png.data[4 * p + 3] = 255; }
    writeFileSync(`${out}/${name}/${files[fi].replace(/\..*/, '')}-${k}.png`, PNG.sync.write(png));
  }
}
