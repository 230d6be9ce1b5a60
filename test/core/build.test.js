// Build selection: the relaxed-SIMD binary only where the engine validates it and its dot product
// is exact; forcing either build; and both builds giving bit-identical outputs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { init, getInfo } from 'dsconv';

const major = Number(process.versions.node.split('.')[0]);
const index = new URL('../../dist/core/index.js', import.meta.url).href;
const here = fileURLToPath(new URL('..', import.meta.url)); // test/, where fixtures/ is
const file = (name) => fileURLToPath(new URL(`../../build/${name}`, import.meta.url));
// Node 22 and later ship relaxed SIMD; Node 20 has it behind a flag only.
const relaxedShipped = major >= 22;

/** init(options) in a fresh process with env DSCONV_BUILD = envBuild; returns the build or the error. */
function initIn(envBuild, options = '{}', flags = []) {
  const code = `
    import { init, getInfo } from ${JSON.stringify(index)};
    import { readFileSync } from 'node:fs';
    try { await init(${options}); console.log('ok ' + getInfo().build); }
    catch (e) { console.log(e.constructor.name + ': ' + e.message); }`;
  const env = { ...process.env };
  if (envBuild === undefined) delete env.DSCONV_BUILD; else env.DSCONV_BUILD = envBuild;
  return execFileSync(process.execPath, [...flags, '--input-type=module', '-e', code], { cwd: here, env, encoding: 'utf8' }).trim();
}

function digestIn(envBuild) {
  const out = execFileSync(process.execPath, ['fixtures/layers-digest.mjs'], {
    cwd: here, env: { ...process.env, DSCONV_BUILD: envBuild }, encoding: 'utf8',
  });
  return JSON.parse(out.trim());
}

test('auto picks the relaxed build exactly where the engine ships relaxed SIMD', () => {
  assert.is(initIn(undefined), `ok ${relaxedShipped ? 'relaxed' : 'simd'}`);
  assert.is(initIn('auto'), initIn(undefined));
});

test('DSCONV_BUILD and options.build force a build; the option wins', () => {
  assert.is(initIn('simd'), 'ok simd');
  assert.is(initIn('relaxed', "{ build: 'simd' }"), 'ok simd');
  if (relaxedShipped) assert.is(initIn('relaxed'), 'ok relaxed');
  else assert.is(initIn('relaxed'), 'Error: dsconv: the relaxed build was asked for, but this engine does not support relaxed SIMD');
  assert.is(initIn('fast'), `RangeError: DSCONV_BUILD must be 'auto', 'simd' or 'relaxed', got "fast"`);
  assert.is(initIn(undefined, "{ build: 'x' }"), `RangeError: options.build must be 'auto', 'simd' or 'relaxed', got "x"`);
});

if (major === 20) {
  test('Node 20 with relaxed SIMD flagged on: the probe catches its baseline tier\'s wrong dot product', () => {
    const flags = ['--experimental-wasm-relaxed-simd'];
    assert.is(initIn(undefined, '{}', flags), 'ok simd');
    assert.match(initIn('relaxed', '{}', flags), /^Error: dsconv: the relaxed build was asked for, but this engine's relaxed dot product is not exact \(lane 0: /);
    // With the baseline tier off, the optimizing tier computes it exactly and the probe agrees.
    assert.is(initIn('relaxed', '{}', [...flags, '--no-liftoff']), 'ok relaxed');
  });
}

test('a single wasmBinary is used as given and checked against the build asked for', () => {
  const simd = `{ wasmBinary: readFileSync(${JSON.stringify(file('dsconv.wasm'))}) }`;
  assert.is(initIn(undefined, simd), 'ok simd');
  assert.is(initIn('relaxed', simd), "Error: dsconv: the build asked for is 'relaxed' but the module given is the 'simd' build");
  const relaxed = `{ wasmBinary: readFileSync(${JSON.stringify(file('dsconv-relaxed.wasm'))}) }`;
  if (relaxedShipped) assert.is(initIn(undefined, relaxed), 'ok relaxed');
  else assert.match(initIn(undefined, relaxed), /^CompileError: /);
  const perBuild = `{ wasmBinary: { simd: readFileSync(${JSON.stringify(file('dsconv.wasm'))}) }, build: 'simd' }`;
  assert.is(initIn(undefined, perBuild), 'ok simd');
});

test('this process runs the build auto picks, and reports it', async () => {
  await init();
  if (process.env.DSCONV_BUILD === undefined) assert.is(getInfo().build, relaxedShipped ? 'relaxed' : 'simd');
});

if (relaxedShipped) {
  test('the relaxed and the portable build give bit-identical outputs', () => {
    const simd = digestIn('simd');
    const relaxed = digestIn('relaxed');
    assert.is(simd.build, 'simd');
    assert.is(relaxed.build, 'relaxed');
    assert.is(relaxed.digest, simd.digest);
  });
}

test.run();
