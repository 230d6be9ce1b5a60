#!/usr/bin/env node
// Two versions of this package side by side in ONE process, so load on a shared machine lands on
// both: each root's `dsconv` entry is loaded (its own wasm runtime), the same suite layers run on
// both, taking turns call batch by call batch, and the ratio of median times is printed. Outputs
// must be bit-identical, or the comparison stops. For a refactor's before/after:
//   git worktree add /tmp/before <commit> && (cd /tmp/before && npm ci)
//   node tools/compare.mjs /tmp/before . [--layers 7x7,1x1] [--extra] [--rounds 60]
// --extra adds the whole-model layers the suite lacks (3x3 stems, MobileNetV2's big depthwise ones).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true, options: { layers: { type: 'string' }, extra: { type: 'boolean' }, rounds: { type: 'string', default: '60' } },
});
if (positionals.length !== 2) {
  console.error('usage: node tools/compare.mjs OLD_ROOT NEW_ROOT [--layers A,B] [--extra] [--rounds N]');
  process.exit(2);
}

/** A root's main entry, read from its package.json (older versions kept it elsewhere in dist/). */
async function entry(root) {
  const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8'));
  const main = pkg.exports?.['.']?.default ?? pkg.main;
  return import(pathToFileURL(resolve(root, main)).href);
}

const [a, b] = await Promise.all(positionals.map(entry));
await a.init();
await b.init();
const { SUITE, selectLayers, layerSpec, layerData, convOptions } = await import(pathToFileURL(resolve(positionals[1], 'dist/bench/index.js')).href);
const { nchwToNhwc } = await import(pathToFileURL(resolve(positionals[1], 'dist/reference/index.js')).href);
const EXTRA = [
  layerSpec('mobilenetv2 Conv1 224x224 3->32 3x3 s2', 224, 3, 32, 3, 2),
  layerSpec('rdn 128x128 3->64 3x3', 128, 3, 64, 3),
  layerSpec('mobilenetv2 112x112 96 dw3x3 s2', 112, 96, 96, 3, 2, 96),
  layerSpec('mobilenetv2 56x56 144 dw3x3', 56, 144, 144, 3, 1, 144),
];
const layers = [...(flags.layers ? selectLayers(flags.layers.split(',')) : SUITE), ...(flags.extra ? EXTRA : [])];
const rounds = Number(flags.rounds);
const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];

console.log(`| layer | engine | ${positionals[0]} ms | ${positionals[1]} ms | old/new |\n|---|---|---:|---:|---:|`);
for (const spec of layers) {
  const d = await layerData(spec);
  const x = nchwToNhwc(d.input, 1, spec.inChannels, spec.size * spec.size);
  const shape = { height: spec.size, width: spec.size, layout: 'NHWC' };
  for (const kind of ['int4', 'int8', 'f32']) {
    const make = (m) => (kind === 'f32' ? new m.Conv2d(d.weights, convOptions(spec, d.bias))
      : m.DSConv2d.fromFloat(d.weights, { ...convOptions(spec, d.bias), bits: kind === 'int4' ? 4 : 8 }));
    const la = make(a), lb = make(b);
    const [oh, ow] = la.outputSize(spec.size, spec.size);
    const ya = new Float32Array(spec.outChannels * oh * ow), yb = new Float32Array(ya.length);
    la.forward(x, shape, ya);
    lb.forward(x, shape, yb);
    if (!ya.every((v, i) => Object.is(v, yb[i]))) throw new Error(`${spec.name} ${kind}: the two versions' outputs differ`);
    const reps = Math.max(3, Math.round(2e7 / spec.macs)); // ~10 ms a batch
    for (let w = 0; w < 20; w++) { la.forward(x, shape, ya); lb.forward(x, shape, yb); } // past the baseline tier
    const t = { a: [], b: [] };
    for (let round = 0; round < rounds; round++) {
      // Alternate who goes first, so neither always runs on a warmer cache.
      for (const [key, l, y] of round % 2 ? [['a', la, ya], ['b', lb, yb]] : [['b', lb, yb], ['a', la, ya]]) {
        const t0 = performance.now();
        for (let i = 0; i < reps; i++) l.forward(x, shape, y);
        t[key].push((performance.now() - t0) / reps);
      }
    }
    console.log(`| ${spec.name} | dsconv-${kind} | ${median(t.a).toFixed(3)} | ${median(t.b).toFixed(3)} | ${(median(t.a) / median(t.b)).toFixed(3)} |`);
    la.dispose();
    lb.dispose();
  }
}
