// The README's example runs as written, and the CLI behaves as documented.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

test('README example runs and prints what it says', () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const start = readme.indexOf('## Example');
  const block = readme.slice(start).match(/```js\n([\s\S]*?)```/);
  assert.ok(block, 'README has a js example');
  // Inside the package, 'dsconv' resolves to this package (self-reference through "exports").
  const file = `${root}build/readme-example.mjs`;
  writeFileSync(file, block[1]);
  // The runner may force colours on; the example's own text is what is checked.
  const out = execFileSync(process.execPath, [file], { encoding: 'utf8' }).replace(/\x1b\[[0-9;]*m/g, '');
  const sqnr = Number(out.match(/SQNR ([\d.]+) dB/)[1]);
  assert.ok(sqnr > 15, `4-bit SQNR ${sqnr} dB`);
  assert.match(out, /packed: 18432, scales: 4608, total: 23040, float32: 147456/);
  assert.match(out, /\ntrue\n/);
});

test('README "Use it in TF.js" example runs: calibration lifts the 4-bit PSNR, the bundle reloads it', () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const block = readme.slice(readme.indexOf('## Use it in TF.js')).match(/```js\n([\s\S]*?)```/);
  assert.ok(block, 'README has a TF.js example');
  const file = `${root}build/readme-tfjs.mjs`;
  writeFileSync(file, block[1]);
  const out = execFileSync(process.execPath, [file], { encoding: 'utf8', cwd: root }).replace(/\x1b\[[0-9;]*m/g, '');
  const free = Number(out.match(/data-free: {2}PSNR ([\d.]+) dB/)[1]);
  const cal = Number(out.match(/calibrated: PSNR ([\d.]+) dB/)[1]);
  assert.ok(cal > free + 6, `data-free ${free} dB, calibrated ${cal} dB`);
  assert.match(out, /\{ packed: 145110, float32: 886288, floatLayers: 0 \}/);
  const reloaded = Number(out.trim().split('\n').pop());
  assert.is(reloaded, cal, 'the bundle gives the calibrated layers back');
});

test('dsconv bench prints a table with GMAC/s and the ratio to xnnpack-f32', () => {
  const out = execFileSync(process.execPath, [`${root}dist/cli/main.js`, 'bench', '--quick', '--layers', 'resnet18 7x7', '--engines', 'dsconv-int4,xnnpack-f32'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  // The speed table is the first table after the header.
  const speed = out.slice(out.indexOf('\nlayer '), out.indexOf('One-off'));
  const rows = speed.split('\n').filter((l) => /^(resnet18 7x7 512->512)?\s+(dsconv-int4|xnnpack-f32)\s+[\d.]+\s/.test(l));
  assert.is(rows.length, 2);
  const xnn = rows.find((r) => r.includes('xnnpack-f32'));
  assert.match(xnn, /\s1\.00x\s/);
  for (const r of rows) {
    const [, ms, gmacs] = r.match(/\s([\d.]+)\s+([\d.]+)\s+[\d.]+x/);
    // GMAC/s is the layer's MACs over the time: 7*7*512*512*9 MACs.
    const macs = 7 * 7 * 512 * 512 * 9;
    assert.ok(Math.abs(Number(gmacs) - macs / Number(ms) / 1e6) < 0.1 + 0.01 * Number(gmacs), r);
  }
});

test('dsconv usage errors exit with status 2 and say why, pointing at --help', () => {
  for (const args of [['frobnicate'], ['bench', '--layers', 'nope'], ['bench', '--engines', 'xnn'], ['bench', '--layout'], ['bench', '--bogus']]) {
    const r = spawnSync(process.execPath, [`${root}dist/cli/main.js`, ...args], { encoding: 'utf8' });
    assert.is(r.status, 2, args.join(' '));
    assert.match(r.stderr, /^dsconv( bench)?: [^\n]+\nRun 'dsconv( bench)? --help' for usage\.\n$/, args.join(' '));
  }
  const help = spawnSync(process.execPath, [`${root}dist/cli/main.js`, 'bench', '--help'], { encoding: 'utf8' });
  assert.is(help.status, 0);
  assert.match(help.stdout, /ResNet-18, ResNet-50,\nVGG-16 and MobileNetV2/);
});

test.run();
