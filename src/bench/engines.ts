// This package's engines: DSConv at 4 and 8 bits, and its float32 conv.
import { Conv2d } from '../core/layers/conv2d.js';
import { DSConv2d } from '../core/layers/dsconv2d.js';
import type { Layout } from '../core/geometry.js';
import { getInfo } from '../core/runtime.js';
import { nchwToNhwc, nhwcToNchw } from '../core/layout.js';
import type { Engine } from './engine.js';
import { type LayerData, convOptions } from './suite.js';
import { PEER_ENGINES } from './peers.js';

export const DSCONV_ENGINES = ['dsconv-int4', 'dsconv-int8', 'dsconv-f32'] as const;

/** Every engine of the benchmark, dsconv's then the peers: the suite's order. */
export const ALL_ENGINES: readonly string[] = [...DSCONV_ENGINES, ...PEER_ENGINES];

/** The engines named in `ids`, in the suite's order whatever the order given; an unknown name is a RangeError listing them. */
export function selectEngines(ids: readonly string[]): string[] {
  for (const id of ids) if (!ALL_ENGINES.includes(id)) throw new RangeError(`unknown engine ${JSON.stringify(id)}; engines are ${ALL_ENGINES.join(', ')}`);
  return ALL_ENGINES.filter((id) => ids.includes(id));
}

/**
 * This package's engines. NHWC is their natural layout (the kernels read NHWC; NCHW adds a
 * transpose of the input and a strided output write); `layout` forces one.
 */
export function dsconvEngines(layout: Layout = 'NHWC'): Engine[] {
  const make = (id: string, minSqnr: number, build: (d: LayerData) => Conv2d | DSConv2d): Engine => ({
    id, layout, minSqnr,
    threads: () => getInfo().threads,
    timing: `forward(): input copy and NaN scan, ${layout === 'NCHW' ? 'NCHW->NHWC transpose, ' : ''}${id === 'dsconv-f32' ? '' : 'BFP conversion, '}kernel, epilogue (bias, ReLU${layout === 'NCHW' ? ', NCHW' : ''}), output copied into a reused array`,
    async create(d) {
      const s = d.spec;
      const l = build(d);
      const input = layout === 'NHWC' ? nchwToNhwc(d.input, 1, s.inChannels, s.size * s.size) : d.input;
      const shape = { height: s.size, width: s.size, layout };
      const weights = l.residentBytes; // before the first call: the weights alone, no per-shape buffers
      const [oh, ow] = l.outputSize(s.size, s.size);
      const out = new Float32Array(s.outChannels * oh * ow); // reused, as a caller looping over inputs would
      return {
        run: () => { l.forward(input, shape, out); },
        output: () => {
          const y = l.forward(input, shape);
          return layout === 'NHWC' ? nhwcToNchw(y, 1, s.outChannels, oh * ow) : y;
        },
        resident: () => ({
          bytes: weights,
          note: `in wasm${l instanceof DSConv2d ? `, ${l.weightBytes.total} B at rest` : ''}; +${l.residentBytes - weights} B per input shape`,
        }),
        dispose: () => l.dispose(),
      };
    },
  });
  const q = (bits: number) => (d: LayerData) => DSConv2d.fromFloat(d.weights, { ...convOptions(d.spec, d.bias), bits, blockSize: 32, mantissaBits: 8 });
  return [
    make('dsconv-int4', 15, q(4)),
    make('dsconv-int8', 30, q(8)),
    make('dsconv-f32', 100, (d) => new Conv2d(d.weights, convOptions(d.spec, d.bias))),
  ];
}
