// The command line as every command reads it: a bad flag or value is a usage error (status 2) that
// names the flag, with the ranges of the quantization schema; values may start with one '-'.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { QUANT_RANGES } from '../../dist/core/options.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = (...args) => spawnSync(process.execPath, [`${root}dist/cli/main.js`, ...args], { encoding: 'utf8' });

/** Runs `args`, expects a usage error matching `re`, followed by the usage of `command`. */
function refused(args, re, command) {
  const r = cli(...args);
  assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, re, args.join(' '));
  assert.match(r.stderr, new RegExp(`\\n\\nusage: dsconv ${command} `), args.join(' '));
}

test('bench: an unknown flag, a missing value and a value out of range each name the flag', () => {
  refused(['bench', '--bogus'], /^dsconv: unknown option --bogus\n/, 'bench');
  refused(['bench', 'stray'], /^dsconv: unknown option stray\n/, 'bench');
  refused(['bench', '--layout', '--quick'], /^dsconv: --layout needs a value\n/, 'bench');
  refused(['bench', '--markdown'], /^dsconv: --markdown needs a value\n/, 'bench');
  refused(['bench', '--layout', 'NCWH'], /^dsconv: --layout must be NHWC or NCHW, got NCWH\n/, 'bench');
  refused(['bench', '--layout', '-x'], /^dsconv: --layout must be NHWC or NCHW, got -x\n/, 'bench');
});

test('quantize and eval: integer flags cite the ranges of the quantization schema', () => {
  const q = ['quantize', '--model', 'm.json', '--out', 'm.dsq'];
  const [lo, hi] = QUANT_RANGES.bits;
  refused([...q, '--bits', String(hi + 1)], new RegExp(`^dsconv quantize: --bits must be an integer in \\[${lo}, ${hi}\\], got ${hi + 1}\\n`), 'quantize');
  const [blo, bhi] = QUANT_RANGES.blockSize;
  refused([...q, '--block', String(blo - 1)], new RegExp(`--block must be an integer in \\[${blo}, ${bhi}\\], got ${blo - 1}`), 'quantize');
  const [mlo, mhi] = QUANT_RANGES.mantissaBits;
  refused(['eval', '--model', 'm.json', '--images', 'd', '--mantissa', 'x'], new RegExp(`^dsconv eval: --mantissa must be an integer in \\[${mlo}, ${mhi}\\], got x\\n`), 'eval');
  refused([...q, '--depthwise', 'rows'], /--depthwise must be channels or taps, got rows/, 'quantize');
  refused(['eval', '--model', 'm.json', '--images', 'd', '--count', '0'], /--count must be a positive integer, got 0/, 'eval');
});

test('a value may start with one dash; one starting with two is a missing value', () => {
  // --range takes -1,1 (so the error is the next flag's); --model does not take --out.
  refused(['quantize', '--model', 'm.json', '--out', 'm.dsq', '--range', '-1,1', '--bits', '9'], /--bits must be an integer/, 'quantize');
  refused(['quantize', '--model', 'm.json', '--out', 'm.dsq', '--range', '-1'], /--range must be LO,HI with LO < HI, got -1\n/, 'quantize');
  refused(['quantize', '--model', '--out', 'm.dsq'], /^dsconv quantize: --model needs a value\n/, 'quantize');
});

test.run();
