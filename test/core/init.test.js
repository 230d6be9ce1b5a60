// Loading the wasm in Node: files (paths and file: URLs, read through the dynamic node:fs import),
// HTTP (streamed when the server says application/wasm, read whole when it does not), bytes, the
// errors of each, the argument checks, and an engine without SIMD. init() loads once per process,
// so each case runs in a fresh one.
import { test } from 'uvu';
import { availableParallelism } from 'node:os';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { serve } from '../../tools/web.mjs';
import { init, getInfo } from 'dsconv';

const run = promisify(execFile);
const index = new URL('../../dist/core/index.js', import.meta.url).href;
const buildDir = fileURLToPath(new URL('../../build/', import.meta.url));
const relaxedShipped = Number(process.versions.node.split('.')[0]) >= 22;

/**
 * init(options) in a fresh process (cwd build/, DSCONV_BUILD unset). Prints "ok <build>
 * streamed=<n>" or "<ErrorName>: <message>"; `options` is source text.
 */
async function initIn(options = '{}', flags = []) {
  const code = `
    import { init, getInfo } from ${JSON.stringify(index)};
    const real = WebAssembly.compileStreaming;
    let streamed = 0;
    WebAssembly.compileStreaming = (...a) => { streamed++; return real(...a); };
    try { await init(${options}); console.log('ok ' + getInfo().build + ' streamed=' + streamed); }
    catch (e) { console.log(e.constructor.name + ': ' + e.message); }`;
  const env = { ...process.env };
  delete env.DSCONV_BUILD;
  const { stdout } = await run(process.execPath, [...flags, '--input-type=module', '-e', code], { cwd: buildDir, env });
  return stdout.trim();
}

let server;
test.before(async () => {
  const simd = readFileSync(`${buildDir}dsconv.wasm`);
  const relaxed = readFileSync(`${buildDir}dsconv-relaxed.wasm`);
  server = await serve({
    '/wasm/simd': { body: simd, type: 'application/wasm' },
    '/wasm/relaxed': { body: relaxed, type: 'application/wasm' },
    '/octet/simd': { body: simd, type: 'application/octet-stream' },
    // Node 24 refuses to stream these, Node 20 accepts them: init() reads them whole on both.
    '/param/simd': { body: simd, type: 'application/wasm; charset=binary' },
    '/upper/simd': { body: simd, type: 'Application/WASM' },
  });
});
test.after(() => server.close());

test('an engine without fixed-width SIMD: init() rejects naming the browsers that have it', async () => {
  // V8 gives wasm SIMD only with SSE4.1 on x64; turning that off makes a real engine without it.
  assert.is(await initIn('{}', ['--no-enable-sse4-1']),
    'Error: dsconv needs WebAssembly fixed-width SIMD, which this engine does not support: it runs in Chrome 91, Firefox 89, Safari 16.4, Node 20 or newer');
});

test('files: a path relative to the working directory, a file: URL, a per-build path', async () => {
  assert.is(await initIn("{ wasmUrl: 'dsconv.wasm' }"), 'ok simd streamed=0');
  assert.is(await initIn(`{ wasmUrl: new URL(${JSON.stringify(`file://${buildDir}dsconv.wasm`)}) }`), 'ok simd streamed=0');
  assert.is(await initIn(`{ wasmUrl: { simd: ${JSON.stringify(`${buildDir}dsconv.wasm`)} }, build: 'simd' }`), 'ok simd streamed=0');
});

test('a missing file: init() rejects naming the option and the path', async () => {
  assert.match(await initIn("{ wasmUrl: 'nope.wasm' }"), /^Error: dsconv could not read options\.wasmUrl from nope\.wasm: ENOENT/);
  assert.match(await initIn("{ wasmUrl: { simd: 'file:///nope/x.wasm' }, build: 'simd' }"),
    /^Error: dsconv could not read options\.wasmUrl\.simd from file:\/\/\/nope\/x\.wasm: ENOENT/);
});

test('HTTP with application/wasm is compiled as it streams', async () => {
  assert.is(await initIn(`{ wasmUrl: '${server.url}/wasm/simd' }`), 'ok simd streamed=1');
  // Both builds by URL; auto picks as it would from the defaults.
  const both = `{ wasmUrl: { simd: '${server.url}/wasm/simd', relaxed: new URL('${server.url}/wasm/relaxed') } }`;
  assert.is(await initIn(both), `ok ${relaxedShipped ? 'relaxed' : 'simd'} streamed=1`);
});

test('HTTP with another content type is read whole, not rejected', async () => {
  assert.is(await initIn(`{ wasmUrl: '${server.url}/octet/simd' }`), 'ok simd streamed=0');
  assert.is(await initIn(`{ wasmUrl: '${server.url}/param/simd' }`), 'ok simd streamed=0');
  assert.is(await initIn(`{ wasmUrl: '${server.url}/upper/simd' }`), 'ok simd streamed=0');
});

test('HTTP errors: the status, and a server that is not there', async () => {
  assert.is(await initIn(`{ wasmUrl: '${server.url}/none' }`), `Error: dsconv could not fetch options.wasmUrl from ${server.url}/none: HTTP 404 Not Found`);
  // A port that was just free: nothing listens on it.
  const gone = await serve({});
  await gone.close();
  assert.match(await initIn(`{ wasmUrl: '${gone.url}/x.wasm' }`), new RegExp(`^Error: dsconv could not fetch options\\.wasmUrl from ${gone.url}/x\\.wasm: fetch failed`));
  assert.is(await initIn("{ wasmUrl: 'http://[::1' }"), 'TypeError: options.wasmUrl is not a valid URL: "http://[::1"');
});

test('wasmBinary: an ArrayBuffer, and bytes taking precedence over a wasmUrl', async () => {
  const bytes = `readFileSync(${JSON.stringify(`${buildDir}dsconv.wasm`)})`;
  const code = (o) => `await import('node:fs').then(({ readFileSync }) => (${o}))`;
  assert.is(await initIn(code(`{ wasmBinary: new Uint8Array(${bytes}).buffer }`)), 'ok simd streamed=0');
  assert.is(await initIn(code(`{ wasmBinary: ${bytes}, wasmUrl: 'nope.wasm' }`)), 'ok simd streamed=0');
});

test('init() checks its options first, even once loaded, naming the argument', async () => {
  await init();
  const rejects = async (options, type, message) => {
    try {
      await init(options);
    } catch (e) {
      assert.instance(e, type);
      assert.is(e.message, message);
      return;
    }
    assert.unreachable(`init(${JSON.stringify(options)}) resolved`);
  };
  await rejects(null, TypeError, 'options must be an object, got null');
  await rejects({ wasmUrl: 5 }, TypeError, 'options.wasmUrl must be a string or a URL, or { simd, relaxed, simdThreads, relaxedThreads } of those, got 5');
  await rejects({ wasmUrl: ['a.wasm'] }, TypeError, 'options.wasmUrl must be a string or a URL, or { simd, relaxed, simdThreads, relaxedThreads } of those, got an array of length 1');
  await rejects({ wasmUrl: { portable: 'a.wasm' } }, RangeError, `options.wasmUrl has an unknown key "portable"; expected one of 'simd', 'relaxed', 'simdThreads', 'relaxedThreads'`);
  await rejects({ wasmUrl: { simd: 1 } }, TypeError, 'options.wasmUrl.simd must be a string or a URL, got 1');
  await rejects({ wasmBinary: 'a.wasm' }, TypeError, 'options.wasmBinary must be an ArrayBuffer or a Uint8Array, or { simd, relaxed, simdThreads, relaxedThreads } of those, got "a.wasm"');
  await rejects({ wasmBinary: { relaxed: [0, 97] } }, TypeError, 'options.wasmBinary.relaxed must be an ArrayBuffer or a Uint8Array, got an array of length 2');
});

test('init() again: no options or the same ones resolve; other options reject naming the option, not ignored', async () => {
  await init();
  const build = getInfo().build;
  for (const same of [undefined, {}, { build }, { build: 'auto' }, { build: undefined }]) await init(same);
  const rejects = async (options, type, re) => {
    const e = await init(options).then(() => undefined, (err) => err);
    assert.ok(e, `init(${JSON.stringify(options)}) resolved`);
    assert.instance(e, type);
    assert.match(e.message, re);
  };
  const other = build === 'simd' ? 'relaxed' : 'simd';
  await rejects({ build: other }, RangeError, new RegExp(`^options\\.build is '${other}', but dsconv is already initialised with the '${build}' build; init\\(\\) options take effect once`));
  // threads like build: the count the first call resolved agrees, another does not.
  const asked = Math.min(4, Math.ceil(availableParallelism() / 2)); // 'auto', as documented
  for (const same of [{ threads: 'auto' }, { threads: asked }]) await init(same);
  await rejects({ threads: asked + 1 }, RangeError, new RegExp(`^options\\.threads is ${asked + 1}, but dsconv is already initialised for ${asked} threads?; init\\(\\) options take effect once`));
  await rejects({ wasmUrl: 'other.wasm' }, RangeError, /^options\.wasmUrl differs from the first init\(\) call's, which did not give it; init\(\) options take effect once/);
  // Unknown options are refused whether or not the module is loaded.
  await rejects({ bild: 'simd' }, TypeError, /^options has an unknown option "bild"; the options are build, /);
  assert.is(getInfo().build, build);
});

test('init() again compares options by value with the first call\'s: URLs by href, bytes by content', async () => {
  const file = `${buildDir}dsconv.wasm`;
  const code = `
    import { readFileSync } from 'node:fs';
    import { init } from ${JSON.stringify(index)};
    const bytes = readFileSync(${JSON.stringify(file)});
    const url = new URL(${JSON.stringify(`file://${file}`)});
    await init({ wasmBinary: { simd: bytes }, wasmUrl: { simd: url }, build: 'simd' });
    const changed = new Uint8Array(bytes);
    changed[changed.length - 1] ^= 1;
    const out = [];
    for (const o of [
      { wasmBinary: { simd: new Uint8Array(bytes) }, wasmUrl: { simd: new URL(url.href) } },
      { wasmBinary: { simd: new Uint8Array(bytes).buffer, relaxed: undefined } },
      { wasmBinary: { simd: changed } },
      { wasmBinary: new Uint8Array(bytes) },
      { wasmUrl: { simd: url.href } },
    ]) out.push(await init(o).then(() => 'ok', (e) => e.constructor.name + ': ' + e.message.split(';')[0]));
    console.log(JSON.stringify(out));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { cwd: buildDir });
  const differs = (key) => `RangeError: options.${key} differs from the first init() call's`;
  assert.equal(JSON.parse(stdout.trim().split('\n').pop()), ['ok', 'ok', differs('wasmBinary'), differs('wasmBinary'), differs('wasmUrl')]);
});

test.run();
