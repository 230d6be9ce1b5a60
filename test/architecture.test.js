// The architecture as rules (.dependency-cruiser.cjs): no import cycles, and dependencies flow one
// way (core <- reference, tfjs, files, bench <- cli). The package's own tree must break none of
// them; a miniature tree that breaks each once shows every rule can fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { cruise } from 'dependency-cruiser';

const root = fileURLToPath(new URL('..', import.meta.url));
const config = createRequire(import.meta.url)('../.dependency-cruiser.cjs');
const RULES = config.forbidden.map((r) => r.name);

/** The rule violations in `dirs` of the tree at `base`, as "rule: from -> to". */
async function violations(base, dirs) {
  const cwd = process.cwd();
  process.chdir(base); // the config names its tsconfig relative to the tree
  try {
    const { output } = await cruise(dirs, { ruleSet: config, ...config.options, validate: true, outputType: 'json' });
    const result = JSON.parse(output);
    return result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
  } finally {
    process.chdir(cwd);
  }
}

test('the package breaks no architecture rule (src/ and assembly/)', async () => {
  const found = await violations(root, ['src', 'assembly']);
  assert.equal(found, []);
});

test('each rule catches the miniature tree that breaks it', async () => {
  const found = await violations(`${root}test/fixtures/architecture`, ['src', 'assembly']);
  for (const rule of RULES) assert.ok(found.some((v) => v.startsWith(`${rule}:`)), `${rule} caught nothing in:\n${found.join('\n')}`);
  const expect = [
    'core-imports-only-core: src/core/engine.ts -> src/tfjs/plugin.ts',
    'browser-safe: src/core/engine.ts -> fs',
    'layers-over-core: src/tfjs/plugin.ts -> src/bench/suite.ts',
    'oracles-stay-in-tests: src/tfjs/plugin.ts -> src/reference/index.ts',
    'nothing-imports-cli: src/bench/suite.ts -> src/cli/main.ts',
    'kernels-share-only-the-abi: assembly/kernel.ts -> src/core/engine.ts',
  ];
  for (const v of expect) assert.ok(found.includes(v), `${v} not reported; found:\n${found.join('\n')}`);
  assert.ok(found.some((v) => v.startsWith('no-cycles: src/core/left.ts') || v.startsWith('no-cycles: src/core/right.ts')));
});

test.run();
