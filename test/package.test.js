// The published artifact, not the repository: `npm pack` holds only what users need, and the
// tarball installed into an empty folder imports and computes from plain Node ESM.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { init, getInfo, DSConv2d } from 'dsconv';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
// Child processes need not report coverage: nothing they run is under this repository's dist/.
const env = { ...process.env };
delete env.NODE_V8_COVERAGE;
delete env.DSCONV_BUILD;

// Source maps too: the built JS names them in its sourceMappingURL comments (a dangling one makes
// Vite's dev server log an error per file), and they point stack traces at the TypeScript.
const ALLOWED = [/^dist\/([\w-]+\/)*[\w-]+\.js$/, /^dist\/([\w-]+\/)*[\w-]+\.js\.map$/, /^dist\/([\w-]+\/)*[\w-]+\.d\.ts$/,
  /^build\/[\w-]+\.wasm$/, /^docs\/[\w-]+\.md$/, /^README\.md$/, /^LICENSE$/, /^package\.json$/];
const REQUIRED = ['package.json', 'README.md', 'LICENSE', 'dist/core/index.js', 'dist/core/index.d.ts', 'dist/core/init.js',
  'dist/reference/index.js', 'dist/reference/index.d.ts', 'dist/tfjs/index.js', 'dist/files/index.js', 'dist/bench/index.js',
  'dist/cli/main.js', 'build/dsconv.wasm', 'build/dsconv-relaxed.wasm'];

let dir, tarball;
test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dsconv-pack-'));
  // Scripts are skipped: `prepare` would rebuild what `npm test` has just built.
  const { stdout } = await run(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: root, env });
  const [info] = JSON.parse(stdout);
  tarball = { path: join(dir, info.filename), files: info.files.map((f) => f.path) };
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('npm pack holds the built JS (with its maps), .d.ts, .wasm, README and LICENSE, and nothing else', () => {
  const stray = tarball.files.filter((f) => !ALLOWED.some((re) => re.test(f)));
  assert.equal(stray, [], 'files outside the allowed set');
  for (const f of REQUIRED) assert.ok(tarball.files.includes(f), `${f} is packed`);
  // Every module has its declarations and the map its last line names.
  for (const f of tarball.files.filter((f) => f.endsWith('.js'))) {
    assert.ok(tarball.files.includes(f.replace(/\.js$/, '.d.ts')), `${f} has a .d.ts`);
    const map = readFileSync(join(root, f), 'utf8').match(/\/\/# sourceMappingURL=(\S+)\s*$/);
    const mapFile = map && join(dirname(f), map[1]);
    if (map) assert.ok(tarball.files.includes(mapFile), `${f} names ${mapFile}, which is packed`);
  }
});

test('the tarball installed into an empty project imports and computes like the repository', async () => {
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  // Dependencies come from npm's cache when `npm ci` has filled it, from the registry otherwise.
  await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', tarball.path], { cwd: dir, env });
  assert.ok(existsSync(join(dir, 'node_modules/dsconv/build/dsconv.wasm')));
  const code = `
    import { init, getInfo, DSConv2d } from 'dsconv';
    import { sqnrDb } from 'dsconv/reference';
    await init();
    const w = new Float32Array(8 * 8 * 9).map((_, i) => ((i * 37) % 17 - 8) / 16);
    const layer = DSConv2d.fromFloat(w, { inChannels: 8, outChannels: 8, kernelSize: 3, padding: 'same', bits: 4 });
    const y = layer.forward(new Float32Array(8 * 5 * 5).map((_, i) => ((i * 13) % 11 - 5) / 4), { height: 5, width: 5 });
    console.log(JSON.stringify({ build: getInfo().build, y: Array.from(y), sqnr: typeof sqnrDb }));`;
  writeFileSync(join(dir, 'main.js'), code);
  const { stdout } = await run(process.execPath, ['main.js'], { cwd: dir, env });
  const got = JSON.parse(stdout);

  // The same layer from the repository's dist/ in this process.
  await init();
  const w = new Float32Array(8 * 8 * 9).map((_, i) => ((i * 37) % 17 - 8) / 16);
  const layer = DSConv2d.fromFloat(w, { inChannels: 8, outChannels: 8, kernelSize: 3, padding: 'same', bits: 4 });
  const want = layer.forward(new Float32Array(8 * 5 * 5).map((_, i) => ((i * 13) % 11 - 5) / 4), { height: 5, width: 5 });
  layer.dispose();
  if (process.env.DSCONV_BUILD === undefined) assert.is(got.build, getInfo().build);
  assert.is(got.sqnr, 'function');
  assert.equal(got.y, Array.from(want));
  assert.ok(want.some((v) => v !== 0));

  // The CLI is installed as a bin and runs.
  const help = await run(join(dir, 'node_modules/.bin/dsconv'), ['--help'], { cwd: dir, env });
  assert.match(help.stdout, /^usage: dsconv <command>/);
});

test('installed without its optional peers, each command says which package to install', async () => {
  const bin = join(dir, 'node_modules/.bin/dsconv');
  const fails = (args) => run(bin, args, { cwd: dir, env }).then(() => assert.unreachable(`dsconv ${args.join(' ')} succeeded`), (e) => e);
  // Only what the core and its commands need is installed with it: not benchmark.js (nor lodash).
  for (const pkg of ['jpeg-js', 'pngjs']) assert.ok(existsSync(join(dir, 'node_modules', pkg)), `${pkg} installed`);
  for (const pkg of ['benchmark', 'lodash', '@tensorflow/tfjs']) assert.not.ok(existsSync(join(dir, 'node_modules', pkg)), `${pkg} not installed`);
  const b = await fails(['bench', '--quick', '--layers', '7x7']);
  assert.is(b.code, 1);
  assert.is(b.stderr, 'dsconv bench: timing needs benchmark.js, an optional peer dependency of dsconv: npm install benchmark\n');
  writeFileSync(join(dir, 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [] }));
  const q = await fails(['quantize', '--model', 'model.json', '--out', 'm.dsq']);
  assert.is(q.stderr, 'dsconv quantize: this command needs TensorFlow.js, an optional peer dependency that is not installed: npm install @tensorflow/tfjs @tensorflow/tfjs-backend-wasm\n');

  await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', 'benchmark@2.1.4'], { cwd: dir, env });
  const x = await fails(['bench', '--quick', '--layers', '7x7', '--engines', 'dsconv-f32,xnnpack-f32']);
  assert.is(x.stderr, 'dsconv bench: engine xnnpack-f32 needs @tensorflow/tfjs-core and @tensorflow/tfjs-backend-wasm; not installed: npm install @tensorflow/tfjs-core @tensorflow/tfjs-backend-wasm\n');
  // Peers not named are skipped, each listed with what to install, and the run goes on.
  const { stdout } = await run(bin, ['bench', '--quick', '--layers', '7x7'], { cwd: dir, env });
  assert.match(stdout, /\n  xnnpack-f32 +unavailable \(not installed: npm install @tensorflow\/tfjs-core @tensorflow\/tfjs-backend-wasm\)\n/);
  assert.match(stdout, /\n  ort-int8 +unavailable \(not installed: npm install onnxruntime-web\)\n/);
  assert.match(stdout, /resnet18 7x7 512->512/);
  assert.not.match(stdout, /Cannot find/);
});

test.run();
