// What `dsconv quantize` and `dsconv eval` share: their common flags, TF.js, the model and the
// images from local files, and the plug-in's options. TensorFlow.js is loaded at run time
// ('@tensorflow/tfjs' if installed, else its parts), so the rest of the package never needs it.
import { readFileSync } from 'node:fs';
import type * as tfc from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type * as tfconv from '@tensorflow/tfjs-converter';
import { basename } from 'node:path';
import { crc32 } from '../core/crc32.js';
import { QUANT_DEFAULTS, QUANT_RANGES, BLOCK_MODES, type BlockMode, type QuantSettings } from '../core/options.js';
import { CALIBRATION_METHODS as METHODS, DEFAULT_SAMPLES, type UseDSConvOptions, type CalibrationMethod, type LayerInfo } from '../tfjs/index.js';
import { missingPackage } from '../bench/peers.js';
import { fileIO, readModelJson, modelFormat, decodeImage, listImages, cropSquare, type Image } from '../files/index.js';
import { readFlags, text, int, oneOf, size, range, list, many, UsageError, type Flag, type Flags } from './args.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * TensorFlow.js as the commands use it: the real types of its packages (dev dependencies, for
 * types only; loadTf imports them at run time), so that useDSConv(tf) is checked against tfjs's
 * own namespace, not a structural copy.
 */
export type Tf = typeof tfc & Pick<typeof tfl, 'loadLayersModel' | 'model'> & Pick<typeof tfconv, 'loadGraphModel'>;
export interface Loaded { tf: Tf; model: any; run: (x: any) => any; logits: (x: any) => any; size: [number, number]; kind: string }

const MODEL_FLAGS = {
  model: text,
  bits: int(...QUANT_RANGES.bits),
  block: int(...QUANT_RANGES.blockSize),
  mantissa: int(...QUANT_RANGES.mantissaBits),
  depthwise: oneOf(BLOCK_MODES),
  'keep-first-float': 'boolean',
  layer: many(layerFlag),
  size,
  range,
  calibrate: text,
  'calibrate-count': int(1, 100000),
  methods: (v: string, flag: string) => {
    const ms = list(v).filter(Boolean);
    for (const m of ms) if (!(METHODS as readonly string[]).includes(m)) throw new UsageError(`${flag} takes ${METHODS.join(', ')}; got ${m}`);
    return ms as CalibrationMethod[];
  },
  samples: int(1, 1 << 20),
  'skip-unreadable': 'boolean',
} as const;

/** The settings both commands take, after defaults. */
export interface ModelSettings {
  model: string; bits: number; block: number; mantissa: number; depthwise: BlockMode; keepFirst: boolean; layers: LayerFlag[];
  size?: [number, number]; range: [number, number]; calibrate?: string; calibrateCount: number;
  methods: CalibrationMethod[]; samples: number; skipUnreadable: boolean;
}

/** The settings a --layer takes, named as the global flags (whose readers check them): the plug-in's name of each. */
const LAYER_KEYS = { bits: 'bits', block: 'blockSize', mantissa: 'mantissaBits', depthwise: 'depthwiseBlocks' } as const;
const LAYER_FORM = `SELECTOR:SETTINGS (SELECTOR a conv's index or name, SETTINGS float or KEY=VALUE,... with KEY ${Object.keys(LAYER_KEYS).join(', ')})`;

/** One --layer (or --keep-first-float): the convs it selects and their settings, false to keep them float. */
export interface LayerFlag { flag: string; value: string; select: number | string; settings: Partial<QuantSettings> | false }

const KEEP_FIRST: LayerFlag = { flag: '--keep-first-float', value: '0:float', select: 0, settings: false };

/** `SELECTOR:SETTINGS`: SELECTOR all digits is an index, anything else a name. */
function layerFlag(value: string, flag: string): LayerFlag {
  // Split at the last ':', as settings hold none and a name might.
  const at = value.lastIndexOf(':');
  const select = value.slice(0, at), rest = value.slice(at + 1);
  if (at <= 0 || rest === '') throw new UsageError(`${flag} must be ${LAYER_FORM}, got ${value}`);
  const given = `${flag} ${value}`;
  const selector = /^\d+$/.test(select) ? Number(select) : select;
  if (rest === 'float') return { flag: given, value, select: selector, settings: false };
  const settings: Record<string, unknown> = {};
  for (const item of list(rest)) {
    const eq = item.indexOf('='), key = item.slice(0, eq);
    if (eq < 0 || !Object.hasOwn(LAYER_KEYS, key)) {
      throw new UsageError(`${given}: ${item === 'float' ? 'float takes no other settings' : `${JSON.stringify(item)} is not KEY=VALUE with KEY ${Object.keys(LAYER_KEYS).join(', ')}`}`);
    }
    const k = LAYER_KEYS[key as keyof typeof LAYER_KEYS];
    if (Object.hasOwn(settings, k)) throw new UsageError(`${given}: ${key} given twice`);
    settings[k] = MODEL_FLAGS[key as keyof typeof LAYER_KEYS](item.slice(eq + 1), `${given}: ${key}`);
  }
  return { flag: given, value, select: selector, settings };
}

/** Whether `l` selects the conv `info`: by index, by weight name, or by its layer's name (the weight's without the last /part). */
function selects(l: LayerFlag, info: LayerInfo): boolean {
  if (typeof l.select === 'number') return info.index === l.select;
  return info.name !== undefined && (info.name === l.select || info.name.slice(0, info.name.lastIndexOf('/') + 1) === `${l.select}/`);
}

const layerRules = (o: ModelSettings): LayerFlag[] => (o.keepFirst ? [KEEP_FIRST, ...o.layers] : o.layers);

/**
 * After the plug-in has met every conv (the first run): prints what each --layer selected and
 * returns that for the bundle's metadata. One that selects no conv (a typo, another model's name)
 * or a conv another one (or --keep-first-float) also selects is a usage error, found before
 * calibration and before any file is written, since the output would not be what was asked.
 */
export function checkLayers(o: ModelSettings, infos: readonly LayerInfo[]): Record<string, unknown>[] {
  const rules = layerRules(o);
  const conv = (info: LayerInfo) => `conv ${info.index}${info.name === undefined ? '' : ` (${info.name})`}`;
  for (const info of infos) {
    const by = rules.filter((l) => selects(l, info));
    if (by.length > 1) throw new UsageError(`${by.map((l) => l.flag).join(' and ')} select the same ${conv(info)}; keep one`);
  }
  return o.layers.map((l) => {
    const convs = infos.filter((info) => selects(l, info));
    if (convs.length === 0) {
      const named = infos.filter((i) => i.name !== undefined);
      const names = named.length === 0 ? 'none named' : `named ${named[0].name}${named.length > 1 ? ` ... ${named.at(-1)!.name}` : ''} (dsconv eval lists them all)`;
      const has = infos.length === 0 ? 'it has no conv' : `its ${infos.length} convs are 0-${infos.length - 1}, ${names}`;
      throw new UsageError(`${l.flag} selects no conv of this model: ${has}`);
    }
    console.log(`${l.flag}: ${convs.map(conv).join(', ')}`);
    return { layer: l.value, convs: convs.map((i) => i.index), ...(l.settings ? { settings: l.settings } : { float: true }) };
  });
}

/** Reads the common flags and the command's `own`; --model is required. */
export function readModelFlags<F extends Record<string, Flag>>(argv: readonly string[], own: F): { o: ModelSettings; flags: Flags<F> } {
  const f = readFlags(argv, { ...MODEL_FLAGS, ...own }) as Flags<typeof MODEL_FLAGS>;
  if (!f.model) throw new UsageError('--model is required');
  const o: ModelSettings = {
    model: f.model, bits: f.bits ?? QUANT_DEFAULTS.bits, block: f.block ?? QUANT_DEFAULTS.blockSize,
    mantissa: f.mantissa ?? QUANT_DEFAULTS.mantissaBits, depthwise: f.depthwise ?? QUANT_DEFAULTS.depthwiseBlocks,
    keepFirst: f['keep-first-float'] ?? false, layers: f.layer ?? [], size: f.size, range: f.range ?? [0, 1], calibrate: f.calibrate,
    calibrateCount: f['calibrate-count'] ?? 64, methods: f.methods ?? [...METHODS], samples: f.samples ?? DEFAULT_SAMPLES,
    skipUnreadable: f['skip-unreadable'] ?? false,
  };
  return { o, flags: f as Flags<F> };
}

/** Loads TF.js (the umbrella package if present, else core + backends + layers + converter) on the wasm backend. */
export async function loadTf(): Promise<Tf> {
  // Each package that is not installed is noted, so the error can say what to install.
  const missing: string[] = [];
  const load = async (name: string): Promise<any> => {
    try {
      return await import(name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw e;
      missing.push(missingPackage(e) ?? name);
      return undefined;
    }
  };
  const need = (names: string[]) =>
    new Error(`this command needs TensorFlow.js, an optional peer dependency that is not installed: npm install ${[...new Set(names)].join(' ')}`);
  let tf: any;
  const umbrella = await load('@tensorflow/tfjs');
  if (umbrella) {
    tf = umbrella;
    if (!await load('@tensorflow/tfjs-backend-wasm')) throw need(missing);
  } else {
    missing.length = 0;
    const core = await load('@tensorflow/tfjs-core');
    // Without even the core, the umbrella package is the simpler install.
    if (!core) throw need(['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm']);
    await load('@tensorflow/tfjs-backend-cpu');
    await load('@tensorflow/tfjs-backend-wasm');
    const layers = await load('@tensorflow/tfjs-layers');
    const converter = await load('@tensorflow/tfjs-converter');
    if (missing.length) throw need(missing);
    tf = { ...core, loadLayersModel: layers.loadLayersModel, model: layers.model, loadGraphModel: converter.loadGraphModel };
  }
  tf.env().set('IS_TEST', true); // no "install tfjs-node" banner
  await tf.setBackend('wasm');
  await tf.ready();
  return tf as Tf;
}

/** Loads the model; `logits` gives pre-softmax outputs when the head is a softmax Dense layer. */
export async function loadModel(tf: Tf, path: string, size?: [number, number]): Promise<Loaded> {
  const json = readModelJson(path);
  const kind = modelFormat(json);
  let model: any, run: (x: any) => any, logits: (x: any) => any, shape: (number | null)[] | undefined;
  if (kind === 'layers-model') {
    model = await tf.loadLayersModel(fileIO(path));
    run = (x) => model.predict(x);
    logits = run;
    shape = model.inputs[0].shape;
    const last = model.layers[model.layers.length - 1];
    if (last.getClassName() === 'Dense' && last.getConfig().activation === 'softmax') {
      const features = tf.model({ inputs: model.inputs, outputs: last.input });
      const [kernel, bias] = last.getWeights();
      logits = (x) => tf.tidy(() => tf.add(tf.matMul(features.predict(x) as tfc.Tensor, kernel), bias));
    }
  } else {
    model = await tf.loadGraphModel(fileIO(path));
    run = (x) => model.predict(x);
    logits = run;
    shape = model.inputs?.[0]?.shape;
  }
  const h = size?.[0] ?? shape?.[1] ?? null, w = size?.[1] ?? shape?.[2] ?? null;
  if (!h || !w || h < 1 || w < 1) throw new UsageError(`the model does not fix its input size; give --size HxW`);
  return { tf, model, run, logits, size: [h, w], kind };
}

export interface ImageSet { files: string[]; crcs: number[]; tensor: any; skipped: string[] }

/** The files read so far by readImages, with each one's CRC-32, and those left out as unreadable. */
export interface ImageFiles { files: string[]; crcs: number[]; skipped: string[] }

/**
 * The first `count` images of `dir` one at a time, each HWC in `range`, decoded only when asked
 * for, recording each file and its CRC-32 (to tell sets apart by content) in `read`. An image
 * that does not decode stops the command, naming it, unless `skipUnreadable`: then it is left
 * out (the next readable ones take its place) and, at the end, the files left out are listed on
 * stderr.
 */
export function* readImages(dir: string, count: number, size: [number, number], range: [number, number], skipUnreadable: boolean, read: ImageFiles): Generator<Float32Array> {
  const [h, w] = size;
  for (const f of listImages(dir)) {
    if (read.files.length === count) break;
    const bytes = new Uint8Array(readFileSync(f));
    let img: Image;
    try {
      img = decodeImage(bytes, f);
    } catch (e) {
      if (!skipUnreadable) throw new Error(`${(e as Error).message}; --skip-unreadable leaves such images out`);
      read.skipped.push(f);
      continue;
    }
    read.files.push(f);
    read.crcs.push(crc32(bytes));
    // Centre crop to the input's aspect ratio, then resize.
    const sq = h === w ? cropSquare(img, h) : resizeTo(img, h, w);
    yield sq.data.map((v) => range[0] + (v / 255) * (range[1] - range[0]));
  }
  const { skipped } = read;
  if (skipped.length) process.stderr.write(`skipped ${skipped.length} unreadable image${skipped.length > 1 ? 's' : ''} in ${dir}: ${skipped.map((f) => basename(f)).join(', ')}\n`);
  if (read.files.length === 0) throw new UsageError(`no ${skipped.length ? 'readable ' : ''}PNG or JPEG images in ${dir}`);
}

/** The first `count` images of `dir` (as readImages reads them) as one NHWC batch. */
export function loadImages(tf: Tf, dir: string, count: number, size: [number, number], range: [number, number], skipUnreadable = false): ImageSet {
  const read: ImageFiles = { files: [], crcs: [], skipped: [] };
  const images = [...readImages(dir, count, size, range, skipUnreadable, read)];
  const data = new Float32Array(images.length * size[0] * size[1] * 3);
  images.forEach((im, i) => data.set(im, i * im.length));
  return { ...read, tensor: tf.tensor4d(data, [images.length, size[0], size[1], 3]) };
}

/**
 * The same images as NHWC batches of at most `batch`, each made only when the previous one is
 * done with: what calibration streams, so only one batch is ever decoded at a time.
 */
export function* imageBatches(tf: Tf, images: Iterable<Float32Array>, size: [number, number], batch: number): Generator<any> {
  const n = size[0] * size[1] * 3;
  let data = new Float32Array(batch * n), k = 0;
  for (const im of images) {
    data.set(im, k++ * n);
    if (k === batch) { yield tf.tensor4d(data, [k, size[0], size[1], 3]); data = new Float32Array(batch * n); k = 0; }
  }
  if (k) yield tf.tensor4d(data.subarray(0, k * n), [k, size[0], size[1], 3]);
}

function resizeTo(img: Image, h: number, w: number): Image {
  const c = cropSquare(img, Math.max(h, w));
  const out = new Float32Array(h * w * 3);
  const y0 = Math.floor((c.height - h) / 2), x0 = Math.floor((c.width - w) / 2);
  for (let y = 0; y < h; y++) out.set(c.data.subarray(((y0 + y) * c.width + x0) * 3, ((y0 + y) * c.width + x0 + w) * 3), y * w * 3);
  return { width: w, height: h, data: out };
}

export function pluginOptions(o: ModelSettings, model: unknown): UseDSConvOptions {
  return {
    bits: o.bits, blockSize: o.block, mantissaBits: o.mantissa, depthwiseBlocks: o.depthwise, model,
    layers: (info) => layerRules(o).find((l) => selects(l, info))?.settings ?? true,
  };
}

/** Runs every conv once (on zeros) so the plug-in quantizes them all. */
export function touch(l: Loaded): void {
  const x = l.tf.zeros([1, l.size[0], l.size[1], 3]);
  const y = l.run(x);
  for (const t of Array.isArray(y) ? y : [y]) t.dispose();
  x.dispose();
}

/** A progress bar on stderr, then `note` (e.g. a time estimate): redrawn on a terminal; elsewhere only its final state. */
export function progress(label: string, done: number, total: number, note = ''): void {
  if (!process.stderr.isTTY && done !== total) return;
  const width = 30, fill = Math.round((done / total) * width);
  process.stderr.write(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total}${note ? ` ${note}` : ''}${process.stderr.isTTY ? '\x1b[K' : ''}${done === total ? '\n' : ''}`);
}
