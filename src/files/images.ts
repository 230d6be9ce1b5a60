// Image decoding for the CLI and tests: PNG (pngjs) and JPEG (jpeg-js), both pure JavaScript,
// to RGB float32 HWC in [0, 255], plus the resize/crop the classifiers need.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, extname } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';

/** RGB image, HWC, float32 values in [0, 255]. */
export interface Image {
  width: number;
  height: number;
  data: Float32Array;
}

const EXTS = new Set(['.png', '.jpg', '.jpeg']);

/** Decodes a PNG or JPEG file (by its signature, not its name) to RGB; alpha is dropped. */
export function decodeImage(bytes: Uint8Array, name = 'image'): Image {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array of PNG or JPEG bytes, got ${typeof bytes}`);
  let rgba: Uint8Array, width: number, height: number;
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  if (!isPng && !(bytes[0] === 0xff && bytes[1] === 0xd8)) throw new RangeError(`${name} is neither PNG nor JPEG (unknown signature)`);
  // The decoders' own messages ("unknown JPEG marker 0") say what broke but not in which file.
  try {
    if (isPng) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      ({ width, height } = png);
      rgba = png.data;
    } else {
      const j = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
      ({ width, height } = j);
      rgba = j.data;
    }
  } catch (e) {
    throw new RangeError(`${name} is not a readable ${isPng ? 'PNG' : 'JPEG'} (truncated or corrupt): ${(e as Error).message}`);
  }
  const data = new Float32Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    data[3 * i] = rgba[4 * i];
    data[3 * i + 1] = rgba[4 * i + 1];
    data[3 * i + 2] = rgba[4 * i + 2];
  }
  return { width, height, data };
}

export function readImage(path: string): Image {
  return decodeImage(new Uint8Array(readFileSync(path)), path);
}

/** The PNG/JPEG files of a folder (not recursive), sorted by name. */
export function listImages(dir: string): string[] {
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new RangeError(`image folder not found: ${dir}`);
  return readdirSync(dir).filter((f) => EXTS.has(extname(f).toLowerCase())).sort().map((f) => join(dir, f));
}

/** Bilinear resize (half-pixel centres, as tf.image.resizeBilinear with halfPixelCenters). */
export function resize(img: Image, width: number, height: number): Image {
  const out = new Float32Array(width * height * 3);
  const sx = img.width / width, sy = img.height / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), img.height - 1);
    const y0 = Math.floor(fy), y1 = Math.min(y0 + 1, img.height - 1), wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), img.width - 1);
      const x0 = Math.floor(fx), x1 = Math.min(x0 + 1, img.width - 1), wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const a = img.data[(y0 * img.width + x0) * 3 + c], b = img.data[(y0 * img.width + x1) * 3 + c];
        const d = img.data[(y1 * img.width + x0) * 3 + c], e = img.data[(y1 * img.width + x1) * 3 + c];
        out[(y * width + x) * 3 + c] = (a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy;
      }
    }
  }
  return { width, height, data: out };
}

/** A square crop (side = fraction of the shorter side, centred at fx, fy in [0, 1]) resized to size x size. */
export function cropSquare(img: Image, size: number, fraction = 1, fx = 0.5, fy = 0.5): Image {
  const side = Math.max(1, Math.round(Math.min(img.width, img.height) * fraction));
  const x0 = Math.round((img.width - side) * fx), y0 = Math.round((img.height - side) * fy);
  const data = new Float32Array(side * side * 3);
  for (let y = 0; y < side; y++) data.set(img.data.subarray(((y0 + y) * img.width + x0) * 3, ((y0 + y) * img.width + x0 + side) * 3), y * side * 3);
  return resize({ width: side, height: side, data }, size, size);
}

/** PSNR in dB of `test` against `ref` for a peak value (255 for 8-bit images). */
export function psnr(ref: ArrayLike<number>, test: ArrayLike<number>, peak = 255): number {
  if (ref.length !== test.length) throw new RangeError(`psnr: lengths differ (${ref.length} vs ${test.length})`);
  let se = 0;
  for (let i = 0; i < ref.length; i++) se += (ref[i] - test[i]) ** 2;
  return se === 0 ? Infinity : 10 * Math.log10(peak * peak / (se / ref.length));
}
