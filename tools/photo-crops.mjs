// Writes 224x224 PNG crops of the real photos Debian's python3-skimage ships: a calibration set and
// an evaluation set cut from disjoint photos (8 crops of 8 photos each). Usage: node tools/photo-crops.mjs OUTDIR
import { writeFileSync, mkdirSync } from 'node:fs';
import { PNG } from 'pngjs';
import { readImage, cropSquare } from 'dsconv/files';
const D = '/usr/lib/python3/dist-packages/skimage/data/';
const sets = {
  cal: ['astronaut.png', 'coffee.png', 'motorcycle_left.png', 'motorcycle_right.png', 'camera.png', 'coins.png', 'rocket.jpg', 'grass.png'],
  eval: ['chelsea.png', 'hubble_deep_field.jpg', 'retina.jpg', 'ihc.png', 'moon.png', 'gravel.png', 'brick.png', 'cell.png'],
};
const out = process.argv[2] ?? '/tmp/photos';
for (const [name, files] of Object.entries(sets)) {
  mkdirSync(`${out}/${name}`, { recursive: true });
  files.forEach((f, fi) => {
    const im = readImage(D + f);
    for (let k = 0; k < 8; k++) {
      const c = cropSquare(im, 224, [1, 0.75, 0.55, 0.4][k % 4], ((k * 37 + fi) % 10) / 9, ((k * 53 + 3 * fi) % 10) / 9);
      const png = new PNG({ width: 224, height: 224 });
      for (let p = 0; p < 224 * 224; p++) { for (let ch = 0; ch < 3; ch++) png.data[4 * p + ch] = Math.round(c.data[3 * p + ch]); png.data[4 * p + 3] = 255; }
      writeFileSync(`${out}/${name}/${f.replace(/\..*/, '')}-${k}.png`, PNG.sync.write(png));
    }
  });
}
