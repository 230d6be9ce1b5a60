// `dsconv quantize` and `dsconv eval`: a TF.js model from local files through the plug-in.
// TensorFlow.js is loaded at run time ('@tensorflow/tfjs' if installed, else its parts), so the
// rest of the package never needs it.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { init } from '../core/init.js';
import { Conv2d } from '../core/layers/conv2d.js';
import { DSConv2d } from '../core/layers/dsconv2d.js';
import { crc32 } from '../core/crc32.js';
import { useDSConv, calibrate, decodeBundle, type DSConvPlugin, type TfLike, type UseDSConvOptions, type CalibrationMethod, type CalibrationReport } from '../tfjs/index.js';
import { fileIO, readModelJson, modelFormat, readImage, listImages, cropSquare } from '../files/index.js';

export class UsageError extends Error {}

/* eslint-disable @typescript-eslint/no-explicit-any */
type Tf = TfLike & Record<string, any>;
interface Loaded { tf: Tf; model: any; run: (x: any) => any; logits: (x: any) => any; size: [number, number]; kind: string }

export const QUANTIZE_USAGE = `usage: dsconv quantize --model model.json --out model.dsq [--bits 4] [--block 32] [--mantissa 8]
         [--depthwise channels|taps] [--keep-first-float] [--size HxW] [--range LO,HI]
         [--calibrate DIR] [--calibrate-count N] [--methods rounding,scales,cds] [--samples N]

Quantizes every conv of a TF.js layers or graph model (Conv2D, depthwise, fused) into a bundle:
VQK, KDS, CDS and options of each layer, versioned and checksummed, which
\`useDSConv(tf, { bundle })\` loads with no requantization. With --calibrate, the first N PNG/JPEG
images of DIR (sorted by name; default 64) calibrate it (unlabelled). Images are centre-cropped,
resized to the model's input size (--size when the model does not fix it) and mapped to --range
(default 0,1).`;

export const EVAL_USAGE = `usage: dsconv eval --model model.json --images DIR [--count N] [--bundle model.dsq | --bits 4 ...]
         [--calibrate DIR] [--calibrate-count N] [--size HxW] [--range LO,HI] [--json FILE]

Runs the float model (tfjs-backend-wasm, XNNPACK) and its DSConv version on the same images and
reports top-1 agreement, mean KL of the softmax, logits SQNR, each conv's output SQNR, the conv
weight bytes float vs packed, and the time per image of both. Calibration images (from
--calibrate or recorded in --bundle) must be disjoint from the evaluation images: shared files
are an error.`;

interface Common {
  model?: string; bits: number; block: number; mantissa: number; depthwise: 'channels' | 'taps'; keepFirst: boolean;
  size?: [number, number]; range: [number, number]; calibrate?: string; calibrateCount: number;
  methods: CalibrationMethod[]; samples: number;
}

function parseArgs(argv: string[], extra: Record<string, (v: string) => void>, flags: Record<string, () => void> = {}): Common {
  const o: Common = { bits: 4, block: 32, mantissa: 8, depthwise: 'channels', keepFirst: false, range: [0, 1], calibrateCount: 64, methods: ['rounding', 'scales', 'cds'], samples: 4096 };
  const num = (name: string, v: string, lo: number, hi: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new UsageError(`${name} must be an integer in [${lo}, ${hi}], got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a in flags) { flags[a](); continue; }
    if (a === '--keep-first-float') { o.keepFirst = true; continue; }
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`${a} needs a value`);
    switch (a) {
      case '--model': o.model = v; break;
      case '--bits': o.bits = num(a, v, 2, 8); break;
      case '--block': o.block = num(a, v, 1, 65536); break;
      case '--mantissa': o.mantissa = num(a, v, 2, 8); break;
      case '--depthwise':
        if (v !== 'channels' && v !== 'taps') throw new UsageError(`--depthwise must be channels or taps, got ${v}`);
        o.depthwise = v; break;
      case '--size': {
        const m = v.match(/^(\d+)(?:x(\d+))?$/);
        if (!m) throw new UsageError(`--size must be H or HxW, got ${v}`);
        o.size = [Number(m[1]), Number(m[2] ?? m[1])]; break;
      }
      case '--range': {
        const r = v.split(',').map(Number);
        if (r.length !== 2 || !r.every(Number.isFinite) || r[0] >= r[1]) throw new UsageError(`--range must be LO,HI with LO < HI, got ${v}`);
        o.range = [r[0], r[1]]; break;
      }
      case '--calibrate': o.calibrate = v; break;
      case '--calibrate-count': o.calibrateCount = num(a, v, 1, 100000); break;
      case '--samples': o.samples = num(a, v, 1, 1 << 20); break;
      case '--methods': {
        const ms = v.split(',').filter(Boolean);
        for (const m of ms) if (!['rounding', 'scales', 'cds'].includes(m)) throw new UsageError(`--methods takes rounding, scales, cds; got ${m}`);
        o.methods = ms as CalibrationMethod[]; break;
      }
      default:
        if (a in extra) extra[a](v);
        else throw new UsageError(`unknown option ${a}`);
    }
  }
  if (!o.model) throw new UsageError('--model is required');
  return o;
}

/** Loads TF.js (the umbrella package if present, else core + backends + layers + converter) on the wasm backend. */
export async function loadTf(): Promise<Tf> {
  const load = (name: string) => import(name) as Promise<any>;
  let tf: any;
  try {
    tf = await load('@tensorflow/tfjs');
    await load('@tensorflow/tfjs-backend-wasm');
  } catch {
    try {
      const core = await load('@tensorflow/tfjs-core');
      await load('@tensorflow/tfjs-backend-cpu');
      await load('@tensorflow/tfjs-backend-wasm');
      const layers = await load('@tensorflow/tfjs-layers');
      const converter = await load('@tensorflow/tfjs-converter');
      tf = { ...core, loadLayersModel: layers.loadLayersModel, model: layers.model, loadGraphModel: converter.loadGraphModel };
    } catch (e) {
      throw new Error(`this command needs TensorFlow.js: npm install @tensorflow/tfjs @tensorflow/tfjs-backend-wasm (${(e as Error).message})`);
    }
  }
  tf.env().set('IS_TEST', true); // no "install tfjs-node" banner
  await tf.setBackend('wasm');
  await tf.ready();
  return tf as Tf;
}

/** Loads the model; `logits` gives pre-softmax outputs when the head is a softmax Dense layer. */
async function loadModel(tf: Tf, path: string, size?: [number, number]): Promise<Loaded> {
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
      logits = (x) => tf.tidy(() => tf.add(tf.matMul(features.predict(x), kernel), bias));
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

interface ImageSet { files: string[]; crcs: number[]; tensor: any }

function loadImages(tf: Tf, dir: string, count: number, size: [number, number], range: [number, number]): ImageSet {
  const files = listImages(dir).slice(0, count);
  if (files.length === 0) throw new UsageError(`no PNG or JPEG images in ${dir}`);
  const [h, w] = size;
  const data = new Float32Array(files.length * h * w * 3);
  const crcs: number[] = [];
  files.forEach((f, i) => {
    const bytes = new Uint8Array(readFileSync(f));
    crcs.push(crc32(bytes));
    const img = readImage(f);
    // Centre crop to the input's aspect ratio, then resize.
    const sq = h === w ? cropSquare(img, h) : resizeTo(img, h, w);
    for (let k = 0; k < sq.data.length; k++) data[i * h * w * 3 + k] = range[0] + (sq.data[k] / 255) * (range[1] - range[0]);
  });
  return { files, crcs, tensor: tf.tensor4d(data, [files.length, h, w, 3]) };
}

function resizeTo(img: ReturnType<typeof readImage>, h: number, w: number) {
  const c = cropSquare(img, Math.max(h, w));
  const out = new Float32Array(h * w * 3);
  const y0 = Math.floor((c.height - h) / 2), x0 = Math.floor((c.width - w) / 2);
  for (let y = 0; y < h; y++) out.set(c.data.subarray(((y0 + y) * c.width + x0) * 3, ((y0 + y) * c.width + x0 + w) * 3), y * w * 3);
  return { width: w, height: h, data: out };
}

function pluginOptions(o: Common, model: unknown): UseDSConvOptions {
  return {
    bits: o.bits, blockSize: o.block, mantissaBits: o.mantissa, depthwiseBlocks: o.depthwise, model,
    layers: o.keepFirst ? ({ index }) => index > 0 : undefined,
  };
}

/** Runs every conv once (on zeros) so the plug-in quantizes them all. */
function touch(l: Loaded): void {
  const x = l.tf.zeros([1, l.size[0], l.size[1], 3]);
  const y = l.run(x);
  for (const t of Array.isArray(y) ? y : [y]) t.dispose();
  x.dispose();
}

function progress(label: string, done: number, total: number): void {
  if (!process.stderr.isTTY && done !== total) return;
  const width = 30, fill = Math.round((done / total) * width);
  process.stderr.write(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total}${done === total ? '\n' : ''}`);
}

export async function quantizeCommand(argv: string[]): Promise<number> {
  let out: string | undefined;
  const o = parseArgs(argv, { '--out': (v) => { out = v; } });
  if (!out) throw new UsageError('--out is required');
  await init();
  const tf = await loadTf();
  const l = await loadModel(tf, o.model!, o.size);
  const plugin = useDSConv(tf, pluginOptions(o, l.model));
  try {
    touch(l);
    const meta: Record<string, unknown> = {
      model: basename(o.model!), bits: o.bits, blockSize: o.block, mantissaBits: o.mantissa, depthwiseBlocks: o.depthwise,
      keepFirstFloat: o.keepFirst, size: l.size, range: o.range,
    };
    if (o.calibrate) {
      const set = loadImages(tf, o.calibrate, o.calibrateCount, l.size, o.range);
      console.log(`calibrating on ${set.files.length} unlabelled images from ${o.calibrate} (keep them out of any evaluation set)`);
      const rep = await calibrate(plugin, l.run, set.tensor, {
        methods: o.methods, samples: o.samples, onLayer: (s) => progress('calibrating', s.index + 1, plugin.layers.length),
      });
      set.tensor.dispose();
      meta.calibration = { images: set.files.map((f) => basename(f)), crc32: set.crcs, methods: o.methods, samples: o.samples };
      printCalibration(rep);
    }
    const bytes = plugin.toBundle(meta);
    writeFileSync(out, bytes);
    const wb = plugin.weightBytes();
    console.log(`${plugin.layers.length} convs (${wb.floatLayers} kept float): conv weights ${wb.float32} B float32 -> ${wb.packed} B (${(wb.float32 / wb.packed).toFixed(2)}x); bundle ${bytes.length} B written to ${out}`);
  } finally {
    plugin.restore();
  }
  return 0;
}

function printCalibration(rep: CalibrationReport): void {
  console.log('layer  name                                 SQNR data-free  calibrated (dB, at the sampled outputs)');
  for (const s of rep.layers) {
    console.log(`${String(s.index).padStart(5)}  ${(s.name ?? '').slice(0, 36).padEnd(36)} ${s.sqnrBefore.toFixed(2).padStart(14)}  ${s.sqnrAfter.toFixed(2).padStart(10)}`);
  }
}

export interface EvalResult {
  model: string;
  images: number;
  calibrationImages: number;
  top1Agreement: number;
  meanKL: number;
  logitsSqnrDb: number;
  layers: { index: number; name?: string; kind: string; sqnrDb: number }[];
  weightBytes: { float32: number; packed: number; ratio: number };
  msPerImage: { float: number; dsconv: number };
  settings: Record<string, unknown>;
}

export async function evalCommand(argv: string[]): Promise<number> {
  let images: string | undefined, json: string | undefined, bundlePath: string | undefined, count = 1000;
  const o = parseArgs(argv, {
    '--images': (v) => { images = v; }, '--json': (v) => { json = v; }, '--bundle': (v) => { bundlePath = v; },
    '--count': (v) => { count = Number(v); if (!Number.isInteger(count) || count < 1) throw new UsageError(`--count must be a positive integer, got ${v}`); },
  });
  if (!images) throw new UsageError('--images is required');
  await init();
  const tf = await loadTf();
  const l = await loadModel(tf, o.model!, o.size);
  const evalSet = loadImages(tf, images, count, l.size, o.range);
  const bundle = bundlePath ? new Uint8Array(readFileSync(bundlePath)) : undefined;
  // Calibration and evaluation images must differ: compare file contents, not names.
  const calCrcs: number[] = bundle ? ((decodeBundle(bundle).meta.calibration as { crc32?: number[] } | undefined)?.crc32 ?? []) : [];
  let calSet: ImageSet | undefined;
  if (o.calibrate) {
    if (bundle) throw new UsageError('--calibrate and --bundle exclude each other (a bundle is already calibrated)');
    calSet = loadImages(tf, o.calibrate, o.calibrateCount, l.size, o.range);
    calCrcs.push(...calSet.crcs);
  }
  const shared = evalSet.files.filter((_, i) => calCrcs.includes(evalSet.crcs[i]));
  if (shared.length) throw new UsageError(`calibration and evaluation images must be disjoint; shared: ${shared.map((f) => basename(f)).join(', ')}`);
  const nCal = calCrcs.length;
  console.log(`evaluating on ${evalSet.files.length} images from ${images}; ${nCal ? `${nCal} calibration images, none of them among these` : 'data-free (no calibration)'}`);

  const n = evalSet.files.length;
  const one = (i: number) => tf.slice(evalSet.tensor, [i, 0, 0, 0], [1, -1, -1, -1]);
  const runAll = (label: string) => {
    const outs: Float32Array[] = [];
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const x = one(i);
      const t0 = performance.now();
      const y = l.logits(x);
      const d = y.dataSync() as Float32Array;
      times.push(performance.now() - t0);
      outs.push(Float32Array.from(d));
      y.dispose(); x.dispose();
      progress(label, i + 1, n);
    }
    return { outs, ms: median(times) };
  };
  touch(l); // warm-up: XNNPACK's first call sets up its operators
  const float = runAll('float  ');

  const plugin = useDSConv(tf, bundle ? { bundle, model: l.model } : pluginOptions(o, l.model));
  let result: EvalResult;
  try {
    if (calSet) {
      await calibrate(plugin, l.run, calSet.tensor, { methods: o.methods, samples: o.samples, onLayer: (s) => progress('calibrate', s.index + 1, plugin.layers.length) });
      calSet.tensor.dispose();
    }
    touch(l);
    const dsconv = runAll('dsconv ');
    const layers = layerSqnr(plugin, l, n, one);
    let agree = 0, kl = 0, sig = 0, err = 0;
    for (let i = 0; i < n; i++) {
      const a = float.outs[i], b = dsconv.outs[i];
      if (argmax(a) === argmax(b)) agree++;
      kl += klSoftmax(a, b);
      for (let k = 0; k < a.length; k++) { sig += a[k] * a[k]; err += (a[k] - b[k]) ** 2; }
    }
    const wb = plugin.weightBytes();
    result = {
      model: o.model!, images: n, calibrationImages: nCal, top1Agreement: agree / n, meanKL: kl / n,
      logitsSqnrDb: err === 0 ? Infinity : 10 * Math.log10(sig / err), layers,
      weightBytes: { float32: wb.float32, packed: wb.packed, ratio: wb.float32 / wb.packed },
      msPerImage: { float: float.ms, dsconv: dsconv.ms },
      settings: bundle ? { bundle: bundlePath, ...decodeBundle(bundle).meta } : { bits: o.bits, blockSize: o.block, mantissaBits: o.mantissa, depthwiseBlocks: o.depthwise, keepFirstFloat: o.keepFirst },
    };
  } finally {
    plugin.restore();
  }
  evalSet.tensor.dispose();
  printEval(result);
  if (json) writeFileSync(json, JSON.stringify(result, null, 2) + '\n');
  return 0;
}

/** Each conv's output SQNR on the evaluation images: the float conv vs the DSConv layer on the same (quantized-network) input. */
function layerSqnr(plugin: DSConvPlugin, l: Loaded, n: number, one: (i: number) => any) {
  const acc = new Map<number, { sig: number; err: number }>();
  plugin.observe((call) => {
    const fl = new Conv2d(call.weights, call.options);
    const L = call.layer;
    const q = L.q ? DSConv2d.fromQuantized({ q: L.q, scales: L.scales! }, { ...call.options, gamma: L.gamma, delta: L.delta }) : null;
    try {
      const yf = fl.forward(call.input, call.shape);
      const yq = q ? q.forward(call.input, call.shape) : yf;
      const a = acc.get(L.info.index) ?? { sig: 0, err: 0 };
      for (let k = 0; k < yf.length; k++) { a.sig += yf[k] * yf[k]; a.err += (yf[k] - yq[k]) ** 2; }
      acc.set(L.info.index, a);
      return yq;
    } finally {
      fl.dispose();
      q?.dispose();
    }
  });
  try {
    for (let i = 0; i < n; i++) {
      const x = one(i);
      const y = l.run(x);
      for (const t of Array.isArray(y) ? y : [y]) t.dispose();
      x.dispose();
      progress('layers ', i + 1, n);
    }
  } finally {
    plugin.observe(null);
  }
  return plugin.layers.map((L) => {
    const a = acc.get(L.info.index);
    const r: { index: number; name?: string; kind: string; sqnrDb: number } = {
      index: L.info.index, kind: L.settings ? `${L.info.kind} ${L.settings.bits}-bit` : `${L.info.kind} float`,
      sqnrDb: !a ? NaN : a.err === 0 ? Infinity : 10 * Math.log10(a.sig / a.err),
    };
    if (L.info.name !== undefined) r.name = L.info.name;
    return r;
  });
}

function printEval(r: EvalResult): void {
  const worst = r.layers.filter((x) => Number.isFinite(x.sqnrDb)).sort((a, b) => a.sqnrDb - b.sqnrDb)[0];
  console.log(`images ${r.images} (calibration images ${r.calibrationImages}, disjoint)`);
  console.log(`top-1 agreement      ${(100 * r.top1Agreement).toFixed(2)}%`);
  console.log(`mean KL (softmax)    ${r.meanKL.toExponential(3)}`);
  console.log(`logits SQNR          ${r.logitsSqnrDb.toFixed(2)} dB`);
  console.log(`conv weights         ${r.weightBytes.float32} B float32 -> ${r.weightBytes.packed} B packed (${r.weightBytes.ratio.toFixed(2)}x)`);
  console.log(`time per image       float (tfjs-backend-wasm, XNNPACK) ${r.msPerImage.float.toFixed(1)} ms, DSConv ${r.msPerImage.dsconv.toFixed(1)} ms (${(r.msPerImage.float / r.msPerImage.dsconv).toFixed(2)}x)`);
  console.log('per-layer output SQNR (dB, float vs DSConv conv on the same input):');
  for (const x of r.layers) console.log(`${String(x.index).padStart(5)}  ${(x.name ?? '').slice(0, 40).padEnd(40)} ${x.kind.padEnd(18)} ${x.sqnrDb.toFixed(2).padStart(7)}${x === worst ? '  <- weakest' : ''}`);
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function argmax(a: Float32Array): number {
  let k = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[k]) k = i;
  return k;
}

/** KL(softmax(a) || softmax(b)) in nats. */
function klSoftmax(a: Float32Array, b: Float32Array): number {
  const lse = (x: Float32Array) => {
    let m = -Infinity;
    for (const v of x) m = Math.max(m, v);
    let s = 0;
    for (const v of x) s += Math.exp(v - m);
    return m + Math.log(s);
  };
  const la = lse(a), lb = lse(b);
  let kl = 0;
  for (let i = 0; i < a.length; i++) {
    const lpa = a[i] - la, lpb = b[i] - lb;
    kl += Math.exp(lpa) * (lpa - lpb);
  }
  return kl;
}
