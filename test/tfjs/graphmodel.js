// Writes a small TF.js graph model (model.json + one shard) to a folder, the way the converter
// lays one out: a fused conv (bias + relu), a depthwise conv and a plain conv, with seeded weights.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { rng, randn } from '../util.js';

const b64 = (s) => Buffer.from(s).toString('base64');
const ints = (a) => ({ list: { i: a.map(String) } });
const shapeAttr = (dims) => ({ shape: { dim: dims.map((d) => ({ size: String(d) })) } });
const constNode = (name, shape) => ({
  name, op: 'Const',
  attr: { value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } }, dtype: { type: 'DT_FLOAT' } },
});

/** Returns { dir, weights: { w1, b1, w2, w3 } } (HWIO float32 as stored). */
export function writeGraphModel(dir, seed = 7) {
  mkdirSync(dir, { recursive: true });
  const r = rng(seed);
  const shapes = { w1: [3, 3, 3, 40], b1: [40], w2: [3, 3, 40, 1], w3: [1, 1, 40, 24] };
  const weights = {};
  for (const [k, s] of Object.entries(shapes)) {
    const n = s.reduce((a, b) => a * b, 1);
    weights[k] = randn(r, n).map((v) => v * (k === 'b1' ? 0.1 : 0.2));
  }
  const nodes = [
    { name: 'input', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: shapeAttr([-1, -1, -1, 3]) } },
    constNode('w1', shapes.w1), constNode('b1', shapes.b1), constNode('w2', shapes.w2), constNode('w3', shapes.w3),
    {
      name: 'conv1', op: '_FusedConv2D', input: ['input', 'w1', 'b1'],
      attr: {
        T: { type: 'DT_FLOAT' }, strides: ints([1, 2, 2, 1]), padding: { s: b64('SAME') }, data_format: { s: b64('NHWC') },
        dilations: ints([1, 1, 1, 1]), fused_ops: { list: { s: [b64('BiasAdd'), b64('Relu')] } }, num_args: { i: '1' },
        epsilon: { f: 0 }, use_cudnn_on_gpu: { b: true },
      },
    },
    {
      name: 'dw', op: 'DepthwiseConv2dNative', input: ['conv1', 'w2'],
      attr: { T: { type: 'DT_FLOAT' }, strides: ints([1, 1, 1, 1]), padding: { s: b64('VALID') }, data_format: { s: b64('NHWC') }, dilations: ints([1, 1, 1, 1]) },
    },
    {
      name: 'out', op: 'Conv2D', input: ['dw', 'w3'],
      attr: { T: { type: 'DT_FLOAT' }, strides: ints([1, 1, 1, 1]), padding: { s: b64('VALID') }, data_format: { s: b64('NHWC') }, dilations: ints([1, 1, 1, 1]), use_cudnn_on_gpu: { b: true } },
    },
  ];
  const specs = Object.entries(shapes).map(([name, shape]) => ({ name, shape, dtype: 'float32' }));
  const bin = Buffer.concat(Object.keys(shapes).map((k) => Buffer.from(weights[k].buffer)));
  writeFileSync(join(dir, 'group1-shard1of1.bin'), bin);
  writeFileSync(join(dir, 'model.json'), JSON.stringify({
    format: 'graph-model', generatedBy: 'dsconv test', convertedBy: null,
    modelTopology: { node: nodes, library: {}, versions: { producer: 1 } },
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: specs }],
  }));
  return { dir, weights };
}
