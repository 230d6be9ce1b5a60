// `dsconv bench`: times the suite's layers on dsconv's engines and the installed peers.
import { cpus } from 'node:os';
import { writeFileSync } from 'node:fs';
import {
  runBench, runBreakdown, dsconvEngines, selectLayers, selectEngines, loadPeers, loadBenchmark, SUITE, ALL_ENGINES, PEER_ENGINES, ROUNDS,
  formatTable, formatWeights, formatBreakdown, benchJson, benchSvg, markdownTable, type Engine, type PeerId, type Progress,
} from '../bench/index.js';
import { init } from '../core/init.js';
import { getInfo } from '../core/runtime.js';
import { readFlags, text, oneOf, int, list, prepareOutput, UsageError } from './args.js';

const LAYOUTS = ['NHWC', 'NCHW'] as const;

export const BENCH_USAGE = `usage: dsconv bench [--quick] [--layout NHWC|NCHW] [--layers NAME,...] [--engines ID,...]
                    [--threads N] [--json FILE] [--svg FILE] [--markdown FILE] [--breakdown]

Times DSConv (dsconv-int4: 4-bit weights; dsconv-int8: 8-bit; both B = 32, 8-bit mantissas),
this package's float32 conv (dsconv-f32) and peers (xnnpack-f32: tfjs-backend-wasm conv2d;
ort-f32: onnxruntime-web Conv; ort-int8: onnxruntime-web QLinearConv) on ResNet-18, ResNet-50,
VGG-16 and MobileNetV2 layers, batch 1, on --threads threads, all engines in one process, and prints ms,
GMAC/s, the ratio to xnnpack-f32 and to ort-int8, and each engine's one-off preparation time and
weight bytes. Timing needs benchmark.js and the peers their packages (npm install benchmark
@tensorflow/tfjs-core @tensorflow/tfjs-backend-wasm onnxruntime-web; none comes with dsconv).

  --quick        a short run (less time per engine; the warm-up is the same)
  --threads N    threads for dsconv and onnxruntime-web (default 1; xnnpack-f32 runs one in Node,
                 whatever is asked: tfjs-backend-wasm takes its single-threaded build there)
  --layout L     dsconv's input and output layout (default NHWC, its kernels' own; peers always
                 use theirs: xnnpack NHWC, ort NCHW)
  --layers A,B   suite layers by name: the exact name, or words of it from the start of a word
                 ("resnet18", "dw", "1x1", "resnet18 7x7"); a size such as "7x7" means the input
                 size, so it is not the stem's 7x7 kernel (default all)
  --engines A,B  of ${ALL_ENGINES.join(', ')} (default all; a peer that is not
                 installed is skipped unless named here)
  --json FILE    write {"node", "relaxed", "results": [{"layer", "macs", "engine", "threads", "ms", "gmacs"}]}
                 (the folders of --json, --svg and --markdown are made if missing)
  --svg FILE     write a bar chart of GMAC/s per layer and engine
  --markdown FILE  write a Markdown table: GMAC/s per layer and engine, dsconv's ratios
  --breakdown    also time the phases of dsconv's forward() (BFP, kernel, epilogue, ...)

Layers: ${SUITE.map((l) => `"${l.name}"`).join(', ')}.`;

const BENCH_FLAGS = {
  quick: 'boolean',
  breakdown: 'boolean',
  threads: int(1, 64),
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
  engines: (v: string) => {
    try {
      return selectEngines(list(v).map((id) => id.trim()));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
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

/** `dsconv bench ...`; resolves with the exit status. */
export async function benchCommand(argv: readonly string[]): Promise<number> {
  const f = readFlags(argv, BENCH_FLAGS);
  const layout = f.layout ?? 'NHWC', layers = f.layers ?? [...SUITE], named = f.engines ?? ALL_ENGINES;
  const threads = f.threads ?? 1;
  // Everything a run needs is checked first: a run takes minutes.
  for (const [flag, file] of [['--json', f.json], ['--svg', f.svg], ['--markdown', f.markdown]] as const) if (file) prepareOutput(flag, file);
  await loadBenchmark();
  const peerIds = named.filter((e): e is PeerId => (PEER_ENGINES as readonly string[]).includes(e));
  // A peer named with --engines must load; one picked by default is skipped if not installed.
  const { engines: peers, unavailable } = await loadPeers(peerIds, f.engines !== undefined, threads);
  const ours = dsconvEngines(layout).filter((e) => named.includes(e.id));
  const engines: Engine[] = [...ours, ...peers];
  const machine = `${cpus()[0]?.model.trim() || 'unknown CPU'} (${cpus().length} cores)`;
  await init({ threads });
  const info = getInfo();
  const relaxed = info.build === 'relaxed';
  const out = process.stdout;
  out.write(`dsconv bench: Node ${process.version}, ${relaxed ? 'relaxed-SIMD' : 'portable SIMD'} build, ${machine}\n`);
  out.write(`batch 1, ${threads === 1 ? 'one thread' : `${threads} threads asked for (each engine's count is in --json)`}; layouts: dsconv ${layout}, xnnpack NHWC, ort NCHW (each engine gets its input in its layout)\n`);
  if (info.threadsReason) out.write(`dsconv: ${info.threadsReason}\n`);
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
  if (f.json) writeFileSync(f.json, `${JSON.stringify(doc, null, 1)}\n`);
  if (f.markdown) writeFileSync(f.markdown, markdownTable(doc));
  if (f.svg) writeFileSync(f.svg, benchSvg(results, { machine, node: process.version, note: `${relaxed ? 'relaxed-SIMD' : 'portable SIMD'} build${f.quick ? ', --quick run' : ''}` }));
  return 0;
}
