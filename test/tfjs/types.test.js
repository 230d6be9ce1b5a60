// The README's TF.js example type-checks under `tsc --strict` (as JavaScript, checkJs) against
// the real TensorFlow.js types: @tensorflow/tfjs-core as written, and the @tensorflow/tfjs
// namespace its comment offers. So tfjs's namespace is assignable to TfLike and fileIO's
// handler to tfjs's IOHandler. A control with a wrong option shows the check can fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
// Inside the package (build/ is ignored by git), so 'dsconv' resolves to this package's own types.
const dir = `${root}build/types-check/`;
const readme = readFileSync(`${root}README.md`, 'utf8');
const example = readme.slice(readme.indexOf('## Use it in TF.js')).match(/```js\n([\s\S]*?)```/)[1];
const CORE_IMPORT = "import * as tf from '@tensorflow/tfjs-core';";

/** tsc --strict --checkJs on `source`; its diagnostics ('' when it compiles). */
function check(name, source) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}${name}.js`, source);
  writeFileSync(`${dir}${name}.json`, JSON.stringify({
    compilerOptions: {
      strict: true, noEmit: true, allowJs: true, checkJs: true, target: 'ES2022', module: 'NodeNext',
      moduleResolution: 'NodeNext', types: ['node'], skipLibCheck: true,
    },
    files: [`${name}.js`],
  }));
  const r = spawnSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${dir}${name}.json`], { encoding: 'utf8' });
  return (r.stdout + r.stderr).trim();
}

test('the README TF.js example compiles under --strict against @tensorflow/tfjs-core', () => {
  assert.ok(example.includes(CORE_IMPORT), 'the example imports tfjs-core as tf');
  assert.is(check('readme-core', example), '');
});

test('... and with the @tensorflow/tfjs namespace instead', () => {
  assert.is(check('readme-umbrella', example.replace(CORE_IMPORT, "import * as tf from '@tensorflow/tfjs';")), '');
});

test('the check fails on a wrong option type (control)', () => {
  const wrong = example.replace('useDSConv(tf, { bits: 4,', "useDSConv(tf, { bits: 'four',");
  assert.ok(wrong !== example, 'the control edits the example');
  assert.match(check('readme-wrong', wrong), /error TS2322/);
});

test.run();
