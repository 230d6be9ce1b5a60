// `--layer SELECTOR:SETTINGS` on `dsconv quantize` and `dsconv eval`: per-conv settings like the
// plug-in's `layers` rule, checked as the global flags are, selecting by index, weight name or
// layer name; one that selects no conv, or a conv already selected, stops the command early.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeBundle } from 'dsconv/tfjs';
import { QUANT_DEFAULTS, QUANT_RANGES } from '../../dist/core/options.js';
import { cli, photoDir, RDN_MODEL as MODEL } from './harness.js';

const tmp = mkdtempSync(join(tmpdir(), 'dsconv-layer-'));
const dirOf = (name, files) => photoDir(tmp, name, files);
const common = ['--model', MODEL, '--size', '24', '--range', '0,255'];
// The RDN's 12 convs in the order they run (the plug-in's indices), as their weights name them.
const NAMES = ['F_m1', 'F_0', 'F_1_1', 'LFF_1', 'F_2_1', 'LFF_2', 'GFF_1', 'GFF_2', 'UPN1', 'UPN2', 'UPN3', 'SR'].map((n) => `${n}/kernel`);

/** Runs `args`, expects a usage error: one line matching `re`, then the pointer to `command`'s help. */
function refused(args, re, command = args[0]) {
  const r = cli(...args);
  assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  // The last line before the pointer (eval draws its float run's bar before the plug-in starts).
  const lines = r.stderr.split('\n').slice(-3);
  assert.match(lines[0], re, args.join(' '));
  assert.equal(lines.slice(1), [`Run 'dsconv ${command} --help' for usage.`, ''], args.join(' '));
  return r;
}

/** Quantizes with `args` into a new bundle; its decoded layers and meta, and the command's stdout. */
function quantize(name, ...args) {
  const out = join(tmp, `${name}.dsq`);
  const r = cli('quantize', ...common, '--out', out, ...args);
  assert.is(r.status, 0, r.stderr);
  return { ...decodeBundle(new Uint8Array(readFileSync(out))), stdout: r.stdout };
}

test('a bad --layer is a usage error naming it and the form expected, or the setting and its range', () => {
  const q = ['quantize', '--model', 'm.json', '--out', 'm.dsq'];
  const form = /^dsconv quantize: --layer must be SELECTOR:SETTINGS \(SELECTOR a conv's index or name, SETTINGS float or KEY=VALUE,\.\.\. with KEY bits, block, mantissa, depthwise\), got /;
  for (const v of ['1=bits=8', ':float', '1:', 'bits=8', '']) refused([...q, '--layer', v], new RegExp(form.source + `${v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
  refused([...q, '--layer'], /^dsconv quantize: --layer needs a value$/);
  refused([...q, '--layer', '1:bitz=3'], /^dsconv quantize: --layer 1:bitz=3: "bitz=3" is not KEY=VALUE with KEY bits, block, mantissa, depthwise$/);
  refused([...q, '--layer', '1:bits'], /: "bits" is not KEY=VALUE/);
  refused([...q, '--layer', '1:float,bits=8'], /^dsconv quantize: --layer 1:float,bits=8: float takes no other settings$/);
  refused([...q, '--layer', '1:bits=8,block=16,bits=7'], /^dsconv quantize: --layer 1:bits=8,block=16,bits=7: bits given twice$/);
  // The ranges of the global flags, from the quantization schema.
  for (const [key, k] of [['bits', 'bits'], ['block', 'blockSize'], ['mantissa', 'mantissaBits']]) {
    const [lo, hi] = QUANT_RANGES[k];
    refused([...q, '--layer', `F_0:${key}=${hi + 1}`], new RegExp(`^dsconv quantize: --layer F_0:${key}=${hi + 1}: ${key} must be an integer in \\[${lo}, ${hi}\\], got ${hi + 1}$`));
    refused(['eval', '--model', 'm.json', '--images', 'd', '--layer', `2:${key}=${lo - 1}`], new RegExp(`^dsconv eval: --layer 2:${key}=${lo - 1}: ${key} must be an integer in \\[${lo}, ${hi}\\]`));
  }
  refused([...q, '--layer', '1:depthwise=rows'], /^dsconv quantize: --layer 1:depthwise=rows: depthwise must be channels or taps, got rows$/);
  // Each --layer is read, in order: the first bad one is reported.
  refused([...q, '--layer', '1:bits=8', '--layer', '2:bits=1', '--layer', '3:block=0'], /--layer 2:bits=1: bits must be/);
});

test('eval refuses --layer with --bundle, before reading either file', () => {
  refused(['eval', ...common, '--images', 'nowhere', '--bundle', 'none.dsq', '--layer', '1:bits=8'],
    /^dsconv eval: --layer and --bundle exclude each other \(a bundle holds each layer's settings\)$/);
});

test('--layer N:bits=8 sets conv N alone; the other settings and convs follow the global flags; the bundle records it', () => {
  const b = quantize('one', '--bits', '5', '--layer', '1:bits=8', '--layer', '4:block=16,mantissa=6');
  assert.equal(b.layers.map((l) => l.name), NAMES);
  const global = { ...QUANT_DEFAULTS, bits: 5 };
  assert.equal(b.layers[1].settings, { ...global, bits: 8 });
  assert.equal(b.layers[4].settings, { ...global, blockSize: 16, mantissaBits: 6 });
  for (const l of b.layers.filter((_, i) => i !== 1 && i !== 4)) assert.equal(l.settings, global, l.name);
  // The integers themselves: b-bit ones lie in [-2^(b-1), 2^(b-1) - 1].
  const within = (l, bits) => l.q.every((v) => v >= -(2 ** (bits - 1)) && v < 2 ** (bits - 1));
  assert.ok(within(b.layers[1], 8) && !within(b.layers[1], 5));
  assert.ok(b.layers.every((l, i) => i === 1 || within(l, 5)));
  assert.equal(b.meta.layerSettings, [
    { layer: '1:bits=8', convs: [1], settings: { bits: 8 } },
    { layer: '4:block=16,mantissa=6', convs: [4], settings: { blockSize: 16, mantissaBits: 6 } },
  ]);
  assert.match(b.stdout, /^--layer 1:bits=8: conv 1 \(F_0\/kernel\)$/m);
  assert.match(b.stdout, /12 convs \(0 kept float\)/);
  assert.equal(quantize('none').meta.layerSettings, []);
});

test('--layer SELECTOR:float keeps the conv float', () => {
  const b = quantize('float', '--layer', '3:float');
  assert.is(b.layers[3].settings, null);
  assert.is(b.layers[3].q, undefined);
  assert.ok(b.layers.every((l, i) => i === 3 || l.settings?.bits === QUANT_DEFAULTS.bits));
  assert.equal(b.meta.layerSettings, [{ layer: '3:float', convs: [3], float: true }]);
  assert.match(b.stdout, /12 convs \(1 kept float\)/);
});

test('a selector names a conv by its weight\'s name or its layer\'s (the weight\'s without the last /part), not by a prefix', () => {
  const b = quantize('named', '--layer', 'F_1_1/kernel:bits=8', '--layer', 'GFF_2:float');
  assert.is(b.layers[NAMES.indexOf('F_1_1/kernel')].settings.bits, 8);
  assert.is(b.layers[NAMES.indexOf('GFF_2/kernel')].settings, null);
  assert.is(b.layers.filter((l) => l.settings?.bits === QUANT_DEFAULTS.bits).length, 10);
  assert.equal(b.meta.layerSettings.map((s) => s.convs), [[NAMES.indexOf('F_1_1/kernel')], [NAMES.indexOf('GFF_2/kernel')]]);
  for (const sel of ['F_1', 'F_1_1/ker', 'kernel']) {
    refused(['quantize', ...common, '--out', join(tmp, 'prefix.dsq'), '--layer', `${sel}:bits=8`], new RegExp(`--layer ${sel}:bits=8 selects no conv`));
  }
});

test('a --layer that selects no conv stops the command before calibration and writes nothing', () => {
  const out = join(tmp, 'unmatched.dsq');
  const cal = dirOf('cal', ['astronaut.png']);
  const r = refused(['quantize', ...common, '--out', out, '--calibrate', cal, '--layer', '1:bits=8', '--layer', 'F_9:float'],
    /^dsconv quantize: --layer F_9:float selects no conv of this model: its 12 convs are 0-11, named F_m1\/kernel \.\.\. SR\/kernel \(dsconv eval lists them all\)$/);
  assert.not.match(r.stdout, /calibrating/);
  assert.not.ok(existsSync(out));
  refused(['quantize', ...common, '--out', out, '--layer', '12:bits=8'], /--layer 12:bits=8 selects no conv of this model: its 12 convs are 0-11/);
  const e = refused(['eval', ...common, '--images', dirOf('eval1', ['chelsea.png']), '--calibrate', cal, '--layer', 'SR/bias:bits=8'], /^dsconv eval: --layer SR\/bias:bits=8 selects no conv of this model: its 12 convs are 0-11/);
  assert.not.match(e.stderr + e.stdout, /calibrate|dsconv +\[/);
});

test('a conv selected twice (two --layer, or --keep-first-float and a --layer on conv 0) is refused; otherwise they compose', () => {
  refused(['quantize', ...common, '--out', join(tmp, 'twice.dsq'), '--layer', '1:bits=8', '--layer', 'F_0:float'],
    /^dsconv quantize: --layer 1:bits=8 and --layer F_0:float select the same conv 1 \(F_0\/kernel\); keep one$/);
  refused(['quantize', ...common, '--out', join(tmp, 'twice.dsq'), '--layer', '2:bits=8', '--layer', '2:bits=6'], /--layer 2:bits=8 and --layer 2:bits=6 select the same conv 2/);
  refused(['quantize', ...common, '--out', join(tmp, 'twice.dsq'), '--keep-first-float', '--layer', 'F_m1:bits=8'],
    /^dsconv quantize: --keep-first-float and --layer F_m1:bits=8 select the same conv 0 \(F_m1\/kernel\); keep one$/);
  const b = quantize('both', '--keep-first-float', '--layer', '1:bits=8');
  assert.is(b.layers[0].settings, null);
  assert.is(b.layers[1].settings.bits, 8);
  assert.ok(b.layers.slice(2).every((l) => l.settings.bits === QUANT_DEFAULTS.bits));
  assert.is(b.meta.keepFirstFloat, true);
  assert.equal(b.meta.layerSettings, [{ layer: '1:bits=8', convs: [1], settings: { bits: 8 } }]);
});

test('eval --layer quantizes as quantize does, and reports the settings', () => {
  const json = join(tmp, 'eval.json');
  const r = cli('eval', ...common, '--images', dirOf('eval2', ['chelsea.png']), '--layer', '1:float', '--layer', 'SR:bits=8', '--json', json);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^--layer SR:bits=8: conv 11 \(SR\/kernel\)$/m);
  const e = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(e.layers.map((l) => l.kind), NAMES.map((_, i) => (i === 1 ? 'conv float' : i === 11 ? 'conv 8-bit' : `conv ${QUANT_DEFAULTS.bits}-bit`)));
  assert.equal(e.settings.layerSettings, [
    { layer: '1:float', convs: [1], float: true },
    { layer: 'SR:bits=8', convs: [11], settings: { bits: 8 } },
  ]);
});

test.run();
