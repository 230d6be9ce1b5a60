// `dsconv quantize`: a TF.js model from local files through the plug-in into a bundle and/or a
// standalone quantized model.
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { init } from '../core/init.js';
import { QUANT_DEFAULTS, BLOCK_MODES } from '../core/options.js';
import { useDSConv, calibrate, encodeArtifact, DEFAULT_BATCH_SIZE, type CalibrationReport, type CalibrationProgress } from '../tfjs/index.js';
import { fileIO, readModelJson, listImages } from '../files/index.js';
import { text, prepareOutput, UsageError } from './args.js';
import { readModelFlags, loadTf, loadModel, readImages, imageBatches, pluginOptions, checkLayers, touch, progress, type ImageFiles } from './model.js';

const D = QUANT_DEFAULTS;

export const QUANTIZE_USAGE = `usage: dsconv quantize --model model.json [--out model.dsq] [--artifact model.dsqm] [--bits ${D.bits}] [--block ${D.blockSize}]
         [--mantissa ${D.mantissaBits}] [--depthwise ${BLOCK_MODES.join('|')}] [--keep-first-float] [--layer SELECTOR:SETTINGS ...]
         [--size HxW] [--range LO,HI] [--calibrate DIR] [--calibrate-count N] [--methods rounding,scales,cds]
         [--samples N] [--skip-unreadable]

Quantizes every conv of a TF.js layers or graph model (Conv2D, depthwise, fused) into a bundle:
VQK, KDS, CDS and options of each layer, versioned and checksummed, which
\`useDSConv(tf, { bundle })\` loads with no requantization (--out, beside the float model), and/or
a standalone model (--artifact): the topology, the other weights as stored and every conv packed,
with no float conv weights, which \`loadQuantizedModel(tf, url or path)\` loads alone. Give at
least one of the two. With --calibrate, the first N PNG/JPEG images of DIR (sorted by name;
default 64) calibrate it (unlabelled). Images are centre-cropped,
resized to the model's input size (--size when the model does not fix it) and mapped to --range
(default 0,1); an image that does not decode stops the command, unless --skip-unreadable leaves
it out (and says so). --model takes model.json or its folder; the output folders are made if missing.
--layer sets a conv apart (given once per conv): SELECTOR is its index (the order the convs run;
all digits) or its name (the weight's as dsconv eval lists them, e.g. conv1/kernel, or the
layer's, conv1); SETTINGS is float (keep it float) or KEY=VALUE,... with KEY bits, block,
mantissa or depthwise, the others as the flags above: --layer 1:bits=8 --layer conv1:bits=6,block=16.
A --layer that selects no conv, or a conv already selected (by another --layer or, for conv 0,
by --keep-first-float), is an error, found before calibration. The bundle records each --layer.`;

/** `dsconv quantize ...`; resolves with the exit status. */
export async function quantizeCommand(argv: readonly string[]): Promise<number> {
  const { o, flags } = readModelFlags(argv, { out: text, artifact: text });
  const { out, artifact } = flags;
  if (!out && !artifact) throw new UsageError('--out or --artifact is required');
  if (out) prepareOutput('--out', out);
  if (artifact) prepareOutput('--artifact', artifact);
  readModelJson(o.model); // a missing model fails now, not after TF.js has loaded
  await init();
  const tf = await loadTf();
  const l = await loadModel(tf, o.model, o.size);
  const plugin = useDSConv(tf, pluginOptions(o, l.model));
  try {
    touch(l);
    const meta: Record<string, unknown> = {
      model: basename(o.model), bits: o.bits, blockSize: o.block, mantissaBits: o.mantissa, depthwiseBlocks: o.depthwise,
      keepFirstFloat: o.keepFirst, layerSettings: checkLayers(o, plugin.layers.map((x) => x.info)), size: l.size, range: o.range,
    };
    if (o.calibrate) {
      // Streamed: DEFAULT_BATCH_SIZE images decoded at a time, so memory does not grow with --calibrate-count.
      const listed = Math.min(o.calibrateCount, listImages(o.calibrate).length);
      if (listed === 0) throw new UsageError(`no PNG or JPEG images in ${o.calibrate}`);
      console.log(`calibrating on ${listed} unlabelled images from ${o.calibrate} (keep them out of any evaluation set)`);
      const read: ImageFiles = { files: [], crcs: [], skipped: [] };
      const images = readImages(o.calibrate, o.calibrateCount, l.size, o.range, o.skipUnreadable, read);
      const started = performance.now();
      const rep = await calibrate(plugin, l.run, () => imageBatches(tf, images, l.size, DEFAULT_BATCH_SIZE), {
        methods: o.methods, samples: o.samples, count: listed, onProgress: (p) => calibrationProgress(p, started),
      });
      meta.calibration = { images: read.files.map((f) => basename(f)), crc32: read.crcs, methods: o.methods, samples: o.samples, target: rep.target };
      printCalibration(rep);
    }
    const bytes = plugin.toBundle(meta);
    if (out) writeFileSync(out, bytes);
    const wb = plugin.weightBytes();
    console.log(`${plugin.layers.length} convs (${wb.floatLayers} kept float): conv weights ${wb.float32} B float32 -> ${wb.packed} B (${(wb.float32 / wb.packed).toFixed(2)}x)${out ? `; bundle ${bytes.length} B written to ${out}` : ''}`);
    if (artifact) {
      const model = await fileIO(o.model).load();
      const a = encodeArtifact(model, bytes);
      writeFileSync(artifact, a);
      // Against the weights as the model's files hold them, and against 4 bytes per weight.
      const files = model.weightData.byteLength;
      const float32 = 4 * model.weightSpecs.reduce((n, w) => n + w.shape.reduce((x, y) => x * y, 1), 0);
      console.log(`standalone model ${a.length} B written to ${artifact}: ${(a.length / files).toFixed(3)}x the model's weight files (${files} B), ${(a.length / float32).toFixed(3)}x its weights as float32 (${float32} B)`);
    }
  } finally {
    plugin.restore();
  }
  return 0;
}

/**
 * One bar over the whole calibration: a step per conv call of each pass over each image, then one
 * per conv for the report (and any fits left), with the time left estimated from the rate so far.
 */
function calibrationProgress(p: CalibrationProgress, started: number): void {
  const passes = p.target === 'network' ? 2 : 1;
  const count = p.count ?? p.images + p.batchImages;
  const total = count * p.layers * passes + p.layers;
  const pass = p.phase === 'quantized' && passes === 2 ? 1 : 0;
  const done = p.phase === 'final' ? count * p.layers * passes + p.layersDone
    : p.images * p.layers * passes + (pass * p.layers + p.layersDone) * p.batchImages;
  const s = Math.round(((performance.now() - started) / 1000) * (total - done) / Math.max(done, 1));
  const eta = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')} left`;
  const what = p.phase === 'final' ? 'report' : `images ${p.images + 1}-${p.images + p.batchImages} of ${count}, ${p.phase}, conv ${p.layersDone}/${p.layers}`;
  progress('calibrating', done, total, `${what}, ${done === total ? 'done' : eta}`);
}

function printCalibration(rep: CalibrationReport): void {
  console.log(`${rep.images} images in ${rep.batches} batches; each conv fitted to the float ${rep.target === 'network' ? 'network\'s outputs' : 'conv on its input'}`);
  console.log('layer  name                                 SQNR data-free  calibrated (dB, at the sampled outputs)');
  for (const s of rep.layers) {
    console.log(`${String(s.index).padStart(5)}  ${(s.name ?? '').slice(0, 36).padEnd(36)} ${s.sqnrBefore.toFixed(2).padStart(14)}  ${s.sqnrAfter.toFixed(2).padStart(10)}`);
  }
}
