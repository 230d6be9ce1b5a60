// `dsconv eval`: the float model and its DSConv version on the same images, compared.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { init } from '../core/init.js';
import { Conv2d } from '../core/layers/conv2d.js';
import { DSConv2d } from '../core/layers/dsconv2d.js';
import { QUANT_DEFAULTS } from '../core/options.js';
import { sqnrDb } from '../core/sqnr.js';
import { median } from '../bench/stats.js';
import { useDSConv, calibrate, decodeBundle, type DSConvPlugin } from '../tfjs/index.js';
import { readModelJson } from '../files/index.js';
import { text, int, prepareOutput, UsageError } from './args.js';
import { readModelFlags, loadTf, loadModel, loadImages, pluginOptions, checkLayers, touch, progress, type ImageSet, type Loaded } from './model.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

export const EVAL_USAGE = `usage: dsconv eval --model model.json --images DIR [--count N]
         [--bundle model.dsq | --bits ${QUANT_DEFAULTS.bits} ... --layer SELECTOR:SETTINGS ...] [--calibrate DIR] [--calibrate-count N]
         [--size HxW] [--range LO,HI] [--json FILE] [--skip-unreadable]

Runs the float model (tfjs-backend-wasm, XNNPACK) and its DSConv version on the same images and
reports top-1 agreement, mean KL of the softmax, logits SQNR, each conv's output SQNR, the conv
weight bytes float vs packed, and the time per image of both. Calibration images (from
--calibrate or recorded in --bundle) must be disjoint from the evaluation images: shared files
are an error. An image that does not decode stops the command, unless --skip-unreadable leaves
it out (and says so). Without --bundle, the model is quantized as by dsconv quantize, with its
flags (--bits, --block, --mantissa, --depthwise, --keep-first-float, --layer: see dsconv quantize
--help); --layer is refused with --bundle, whose layers have their settings already.`;

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

/** `dsconv eval ...`; resolves with the exit status. */
export async function evalCommand(argv: readonly string[]): Promise<number> {
  const { o, flags } = readModelFlags(argv, { images: text, json: text, bundle: text, count: int(1, Infinity, 'a positive integer') });
  const { images, json, bundle: bundlePath, count = 1000 } = flags;
  if (!images) throw new UsageError('--images is required');
  if (json) prepareOutput('--json', json);
  // Refused rather than ignored: the bundle's layers could not take them.
  if (bundlePath && o.layers.length) throw new UsageError('--layer and --bundle exclude each other (a bundle holds each layer\'s settings)');
  readModelJson(o.model); // a missing model or bundle fails now, not after TF.js has loaded
  const bundle = bundlePath ? new Uint8Array(readFileSync(bundlePath)) : undefined;
  await init();
  const tf = await loadTf();
  const l = await loadModel(tf, o.model, o.size);
  const evalSet = loadImages(tf, images, count, l.size, o.range, o.skipUnreadable);
  // Calibration and evaluation images must differ: compare file contents, not names.
  const calCrcs: number[] = bundle ? ((decodeBundle(bundle).meta.calibration as { crc32?: number[] } | undefined)?.crc32 ?? []) : [];
  let calSet: ImageSet | undefined;
  if (o.calibrate) {
    if (bundle) throw new UsageError('--calibrate and --bundle exclude each other (a bundle is already calibrated)');
    calSet = loadImages(tf, o.calibrate, o.calibrateCount, l.size, o.range, o.skipUnreadable);
    calCrcs.push(...calSet.crcs);
  }
  const shared = evalSet.files.filter((_, i) => calCrcs.includes(evalSet.crcs[i]));
  if (shared.length) throw new UsageError(`calibration and evaluation images must be disjoint; shared: ${shared.map((f) => basename(f)).join(', ')}`);
  const nCal = calCrcs.length;
  console.log(`evaluating on ${evalSet.files.length} images from ${images}; ${nCal ? `${nCal} calibration images, none of them among these` : 'data-free (no calibration)'}`);

  const n = evalSet.files.length;
  const one = (i: number) => tf.slice(evalSet.tensor, [i, 0, 0, 0], [1, -1, -1, -1]);
  // All images' outputs back to back in one array: the logits SQNR is over all of them.
  const runAll = (label: string) => {
    let outs = new Float32Array(0);
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const x = one(i);
      const t0 = performance.now();
      const y = l.logits(x);
      const d = y.dataSync() as Float32Array;
      times.push(performance.now() - t0);
      if (i === 0) outs = new Float32Array(n * d.length);
      outs.set(d, i * d.length);
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
    let layerSettings: Record<string, unknown>[] = [];
    if (!bundle) {
      touch(l); // meets every conv, so that a wrong --layer stops the command before calibration
      layerSettings = checkLayers(o, plugin.layers.map((x) => x.info));
    }
    if (calSet) {
      await calibrate(plugin, l.run, calSet.tensor, { methods: o.methods, samples: o.samples, onLayer: (s) => progress('calibrate', s.index + 1, plugin.layers.length) });
      calSet.tensor.dispose();
    }
    touch(l);
    const dsconv = runAll('dsconv ');
    const layers = layerSqnr(plugin, l, n, one);
    const k = float.outs.length / n;
    let agree = 0, kl = 0;
    for (let i = 0; i < n; i++) {
      const a = float.outs.subarray(i * k, (i + 1) * k), b = dsconv.outs.subarray(i * k, (i + 1) * k);
      if (argmax(a) === argmax(b)) agree++;
      kl += klSoftmax(a, b);
    }
    const wb = plugin.weightBytes();
    result = {
      model: o.model, images: n, calibrationImages: nCal, top1Agreement: agree / n, meanKL: kl / n,
      logitsSqnrDb: sqnrDb(float.outs, dsconv.outs), layers,
      weightBytes: { float32: wb.float32, packed: wb.packed, ratio: wb.float32 / wb.packed },
      msPerImage: { float: float.ms, dsconv: dsconv.ms },
      settings: bundle ? { bundle: bundlePath, ...decodeBundle(bundle).meta }
        : { bits: o.bits, blockSize: o.block, mantissaBits: o.mantissa, depthwiseBlocks: o.depthwise, keepFirstFloat: o.keepFirst, layerSettings },
    };
  } finally {
    plugin.restore();
  }
  evalSet.tensor.dispose();
  printEval(result);
  if (json) writeFileSync(json, JSON.stringify(result, null, 2) + '\n');
  return 0;
}

/**
 * Each conv's output SQNR on the evaluation images: the float conv vs the DSConv layer on the same
 * (quantized-network) input. Summed over calls as they happen, since the outputs are not kept.
 */
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
