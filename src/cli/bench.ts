// `dsconv bench`: times the suite's layers on dsconv's engines and the installed peers.
import { cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  runBench, runBreakdown, dsconvEngines, selectLayers, loadPeers, SUITE, DSCONV_ENGINES, PEER_ENGINES, ROUNDS,
  formatTable, formatWeights, formatBreakdown, benchJson, benchSvg, markdownTable, type Engine, type PeerId, type Progress,
} from '../bench/index.js';
import { init } from '../core/init.js';
import { getInfo } from '../core/runtime.js';
import { readFlags, text, oneOf, list, UsageError } from './args.js';

const ALL_ENGINES: readonly string[] = [...DSCONV_ENGINES, ...PEER_ENGINES];
const LAYOUTS = ['NHWC', 'NCHW'] as const;

export const BENCH_USAGE = `usage: dsconv bench [--quick] [--layout NHWC|NCHW] [--layers NAME,...] [--engines ID,...]
                    [--json FILE] [--svg FILE] [--markdown FILE] [--breakdown]

Times DSConv (dsconv-int4: 4-bit weights; dsconv-int8: 8-bit; both B = 32, 8-bit mantissas),
this package's float32 conv (dsconv-f32) and peers (xnnpack-f32: tfjs-backend-wasm conv2d;
ort-f32: onnxruntime-web Conv; ort-int8: onnxruntime-web QLinearConv) on ResNet-18, ResNet-50,
VGG-16 and MobileNetV2 layers, batch 1, one thread, benchmark.js, all engines in one process,
and prints ms, GMAC/s, the ratio to xnnpack-f32 and to ort-int8, and each engine's one-off
preparation time and weight bytes.

  --quick        a short run (less time per engine; the warm-up is the same)
  --layout L     dsconv's input and output layout (default NHWC, its kernels' own; peers always
                 use theirs: xnnpack NHWC, ort NCHW)
  --layers A,B   suite layers whose name is or contains each term (default all)
  --engines A,B  of ${ALL_ENGINES.join(', ')} (default all; a peer that is not
                 installed is skipped unless named here)
  --json FILE    write {"node", "relaxed", "results": [{"layer", "macs", "engine", "ms", "gmacs"}]}
  --svg FILE     write a bar chart of GMAC/s per layer and engine
  --markdown FILE  write a Markdown table: GMAC/s per layer and engine, dsconv's ratios
  --breakdown    also time the phases of dsconv's forward() (BFP, kernel, epilogue, ...)

Layers: ${SUITE.map((l) => `"${l.name}"`).join(', ')}.

dsconv quantize and dsconv eval (a TF.js model with DSConv layers): see dsconv quantize --help,
dsconv eval --help.`;

const BENCH_FLAGS = {
  quick: 'boolean',
  breakdown: 'boolean',
  json: text,
  svg: text,
  markdown: text,
  layout: oneOf(LAYOUTS, (v) => v.toUpperCase()),
  layers: (v: string) => {
    try {
      return selectLayers(list(v));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  },
  // Named engines run in the suite's order, whatever the order given.
  engines: (v: string) => {
    const ids = list(v).map((id) => id.trim());
    for (const id of ids) if (!ALL_ENGINES.includes(id)) throw new UsageError(`unknown engine ${JSON.stringify(id)}; engines are ${ALL_ENGINES.join(', ')}`);
    return ALL_ENGINES.filter((id) => ids.includes(id));
  },
} as const;

/** Progress on stderr: one line rewritten in place on a terminal, one line per finished engine otherwise. */
function progressReporter(stream: NodeJS.WriteStream) {
  const tty = stream.isTTY === true;
  return {
    onProgress: (p: Progress) => {
      if (!tty) return;
      const stage = p.stage === 'time' ? (p.round ? `timing, round ${p.round}/${p.rounds}` : 'timing') : p.stage === 'warm' ? 'warming up' : 'preparing';
      stream.write(`\r\x1b[K[${p.layerIndex + 1}/${p.layerCount}] ${p.layer.name}: ${p.engine} ${stage}`);
    },
    onLayer: (results: { layer: string; engine: string; ms: number; gmacs: number }[]) => {
      if (tty) stream.write('\r\x1b[K');
      for (const r of results) stream.write(`${tty ? '' : '  '}${r.layer} ${r.engine}: ${r.ms.toFixed(3)} ms, ${r.gmacs.toFixed(1)} GMAC/s\n`);
    },
    clear: () => { if (tty) stream.write('\r\x1b[K'); },
  };
}

function write(file: string, body: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, body);
}

/** `dsconv bench ...`; resolves with the exit status. */
export async function benchCommand(argv: readonly string[]): Promise<number> {
  const f = readFlags(argv, BENCH_FLAGS);
  const layout = f.layout ?? 'NHWC', layers = f.layers ?? [...SUITE], named = f.engines ?? ALL_ENGINES;
  const peerIds = named.filter((e): e is PeerId => (PEER_ENGINES as readonly string[]).includes(e));
  // A peer named with --engines must load; one picked by default is skipped if not installed.
  const { engines: peers, unavailable } = await loadPeers(peerIds, f.engines !== undefined);
  const ours = dsconvEngines(layout).filter((e) => named.includes(e.id));
  const engines: Engine[] = [...ours, ...peers];
  const machine = `${cpus()[0]?.model.trim() || 'unknown CPU'} (${cpus().length} cores)`;
  await init();
  const relaxed = getInfo().build === 'relaxed';
  const out = process.stdout;
  out.write(`dsconv bench: Node ${process.version}, ${relaxed ? 'relaxed-SIMD' : 'portable SIMD'} build, ${machine}\n`);
  out.write(`batch 1, one thread; layouts: dsconv ${layout}, xnnpack NHWC, ort NCHW (each engine gets its input in its layout)\n`);
  out.write(`${f.quick ? 'quick run; ' : ''}engines take turns over ${ROUNDS} rounds after a warm-up; each figure is the median of all samples\n`);
  out.write('one timed call includes:\n');
  for (const e of engines) out.write(`  ${e.id.padEnd(12)} ${e.timing}\n`);
  for (const u of unavailable) out.write(`  ${u.id.padEnd(12)} unavailable (${u.reason.split('\n')[0]})\n`);
  out.write('\n');
  const progress = progressReporter(process.stderr);
  const results = await runBench({ layers, engines, ...(f.quick ? { maxTime: 0.3, minTime: 0.02, minSamples: 3 } : { maxTime: 1 }), ...progress });
  progress.clear();
  out.write(`${formatTable(results)}\n\n`);
  out.write('One-off preparation (building the layer and its first call), weight bytes kept, and SQNR against dsconv-f32.\n'
    + 'dsconv: wasm memory the layer keeps for its weights (packed VQK, scales), plus per input shape the indirection\n'
    + 'buffer and epilogue made by the first call; peers: the bytes handed to them (their packed copies are not visible).\n'
    + `${formatWeights(results)}\n`);
  if (f.breakdown) {
    const mine = ours.length ? ours : dsconvEngines(layout);
    const b = await runBreakdown({ layers, engines: mine, calls: f.quick ? 10 : undefined, onProgress: progress.onProgress });
    progress.clear();
    out.write(`\nWhere dsconv's forward() spends its time (mean of many calls; the per-block rescale is inside the kernel):\n${formatBreakdown(b)}\n`);
  }
  const doc = benchJson(results, { node: process.version, relaxed });
  if (f.json) write(f.json, `${JSON.stringify(doc, null, 1)}\n`);
  if (f.markdown) write(f.markdown, markdownTable(doc));
  if (f.svg) write(f.svg, benchSvg(results, { machine, node: process.version, note: `${relaxed ? 'relaxed-SIMD' : 'portable SIMD'} build${f.quick ? ', --quick run' : ''}` }));
  return 0;
}
