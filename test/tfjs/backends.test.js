// The plug-in against the active TF.js backend: never a silent no-op. With the default backends
// an active backend outside them (webgl, the browser's default) is a RangeError naming both;
// with backends given, one warning; a backend named explicitly (webgl) has its kernels replaced.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { init } from 'dsconv';
import { useDSConv } from 'dsconv/tfjs';
import { coveredBackends } from '../../dist/tfjs/backends.js';

tf.env().set('IS_TEST', true);
await init();
await tf.setBackend('cpu');

/** tf as it looks while `name` is the active backend (webgl cannot start in Node). */
const activeIs = (name) => ({ ...tf, getBackend: () => name });

test('defaults while webgl is active: a RangeError naming the active and the covered backends', () => {
  assert.throws(() => useDSConv(activeIs('webgl')), (e) => e instanceof RangeError
    && /active TF\.js backend is 'webgl'/.test(e.message) && /'cpu', 'wasm'/.test(e.message) && /options\.backends: \['webgl'\]/.test(e.message));
});

test('backends given but not active: one warning, and the plug-in covers them once selected', async () => {
  await tf.setBackend('cpu'); // test files share one tfjs: each sets the backend it needs
  const warnings = [];
  assert.equal(coveredBackends(tf, ['wasm'], (m) => warnings.push(m)), ['wasm']);
  assert.is(warnings.length, 1);
  assert.match(warnings[0], /covers 'wasm' but the active TF\.js backend is 'cpu'/);
  const warn = console.warn;
  const seen = [];
  console.warn = (m) => seen.push(m);
  let plugin;
  try {
    plugin = useDSConv(tf, { backends: ['wasm'] });
  } finally {
    console.warn = warn;
  }
  assert.is(seen.length, 1);
  try {
    const x = tf.ones([1, 6, 6, 8]), w = tf.ones([3, 3, 8, 4]);
    tf.conv2d(x, w, 1, 'same').dispose();
    assert.is(plugin.layers.length, 0, 'cpu convs are not covered');
    assert.throws(() => plugin.toBundle(), (e) => e instanceof RangeError && /backends \(wasm; active: cpu\)/.test(e.message));
    await tf.setBackend('wasm');
    tf.conv2d(x, w, 1, 'same').dispose();
    assert.is(plugin.layers.length, 1, 'wasm convs are');
  } finally {
    plugin.restore();
    await tf.setBackend('cpu');
  }
});

test('the active backend named explicitly (webgl): no error, its conv kernels are the ones replaced', () => {
  const t = activeIs('webgl');
  const before = tf.getKernel('Conv2D', 'webgl');
  assert.ok(before, 'tfjs-backend-webgl registers its kernels on import');
  const plugin = useDSConv(t, { backends: ['webgl'] });
  try {
    assert.is.not(tf.getKernel('Conv2D', 'webgl'), before);
    assert.is(tf.getKernel('Conv2D', 'cpu').backendName, 'cpu');
  } finally {
    plugin.restore();
  }
  assert.is(tf.getKernel('Conv2D', 'webgl'), before);
});

test('options.backends must be a non-empty array of names', () => {
  for (const bad of [[], 'wasm', [1]]) {
    assert.throws(() => coveredBackends(tf, bad), (e) => e instanceof TypeError && /options\.backends must be a non-empty array/.test(e.message));
  }
});

test.run();
