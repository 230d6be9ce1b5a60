// The command line as every command reads it: a bad flag or value is a usage error (status 2): one
// line that names the flag, with the ranges of the quantization schema, and one pointing at the
// command's --help (not the whole usage); values may start with one '-'.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { QUANT_RANGES } from '../../dist/core/options.js';
import { cli, root } from './harness.js';

/** Runs `args`, expects a usage error: one line matching `re`, then the pointer to `command`'s help. */
function refused(args, re, command) {
  const r = cli(...args);
  assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  const lines = r.stderr.split('\n');
  assert.match(lines[0], re, args.join(' '));
  assert.equal(lines.slice(1), [`Run 'dsconv ${command} --help' for usage.`, ''], args.join(' '));
}

test('bench: an unknown flag, a missing value and a value out of range each name the flag', () => {
  refused(['bench', '--bogus'], /^dsconv bench: unknown option --bogus$/, 'bench');
  refused(['bench', 'stray'], /^dsconv bench: unknown option stray$/, 'bench');
  refused(['bench', '--layout', '--quick'], /^dsconv bench: --layout needs a value$/, 'bench');
  refused(['bench', '--markdown'], /^dsconv bench: --markdown needs a value$/, 'bench');
  refused(['bench', '--layout', 'NCWH'], /^dsconv bench: --layout must be NHWC or NCHW, got NCWH$/, 'bench');
  refused(['bench', '--layout', '-x'], /^dsconv bench: --layout must be NHWC or NCHW, got -x$/, 'bench');
});

test('quantize and eval: integer flags cite the ranges of the quantization schema', () => {
  const q = ['quantize', '--model', 'm.json', '--out', 'm.dsq'];
  const [lo, hi] = QUANT_RANGES.bits;
  refused([...q, '--bits', String(hi + 1)], new RegExp(`^dsconv quantize: --bits must be an integer in \\[${lo}, ${hi}\\], got ${hi + 1}\$`), 'quantize');
  const [blo, bhi] = QUANT_RANGES.blockSize;
  refused([...q, '--block', String(blo - 1)], new RegExp(`--block must be an integer in \\[${blo}, ${bhi}\\], got ${blo - 1}`), 'quantize');
  const [mlo, mhi] = QUANT_RANGES.mantissaBits;
  refused(['eval', '--model', 'm.json', '--images', 'd', '--mantissa', 'x'], new RegExp(`^dsconv eval: --mantissa must be an integer in \\[${mlo}, ${mhi}\\], got x\$`), 'eval');
  refused([...q, '--depthwise', 'rows'], /--depthwise must be channels or taps, got rows/, 'quantize');
  refused(['eval', '--model', 'm.json', '--images', 'd', '--count', '0'], /--count must be a positive integer, got 0/, 'eval');
});

test('a value may start with one dash; one starting with two is a missing value', () => {
  // --range takes -1,1 (so the error is the next flag's); --model does not take --out.
  refused(['quantize', '--model', 'm.json', '--out', 'm.dsq', '--range', '-1,1', '--bits', '9'], /--bits must be an integer/, 'quantize');
  refused(['quantize', '--model', 'm.json', '--out', 'm.dsq', '--range', '-1'], /--range must be LO,HI with LO < HI, got -1$/, 'quantize');
  refused(['quantize', '--model', '--out', 'm.dsq'], /^dsconv quantize: --model needs a value$/, 'quantize');
});

test('dsconv --version prints the package version; --help and help list the commands, not one command\'s flags', () => {
  const { version } = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
  for (const flag of ['--version', '-v']) {
    const r = cli(flag);
    assert.is(r.status, 0, flag);
    assert.is(r.stdout, `${version}\n`, flag);
  }
  for (const args of [[], ['--help'], ['-h'], ['help']]) {
    const r = cli(...args);
    assert.is(r.status, 0, args.join(' '));
    assert.match(r.stdout, /^usage: dsconv <command> \[flags\]\n/, args.join(' '));
    for (const cmd of ['quantize', 'eval', 'bench']) assert.match(r.stdout, new RegExp(`\\n  ${cmd} +\\S`), `${args.join(' ')}: ${cmd} listed`);
    assert.not.match(r.stdout, /--breakdown/, 'the bench\'s flags are in dsconv bench --help');
  }
  for (const cmd of ['quantize', 'eval', 'bench']) {
    const help = cli('help', cmd);
    assert.is(help.status, 0);
    assert.is(help.stdout, cli(cmd, '--help').stdout);
    assert.match(help.stdout, new RegExp(`^usage: dsconv ${cmd} `));
  }
});

test('an unknown command names itself and the commands, in one line and a pointer to --help', () => {
  const r = cli('frobnicate');
  assert.is(r.status, 2);
  assert.is(r.stderr, 'dsconv: unknown command "frobnicate"; the commands are quantize, eval, bench\nRun \'dsconv --help\' for usage.\n');
  assert.is(cli('help', 'frobnicate').status, 2);
});

test.run();
