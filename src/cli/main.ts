#!/usr/bin/env node
// The `dsconv` command.
import { cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  runBench, runBreakdown, dsconvEngines, selectLayers, SUITE, DSCONV_ENGINES, ROUNDS,
  formatTable, formatWeights, formatBreakdown, benchJson, benchSvg, markdownTable, type Engine, type LayerSpec, type Progress,
} from '../bench/index.js';
import { loadPeers, PEER_ENGINES, type PeerId } from '../bench/peers.js';
import { init } from '../core/init.js';
import { getInfo } from '../core/runtime.js';
import { quantizeCommand, evalCommand, UsageError as ModelUsageError, QUANTIZE_USAGE, EVAL_USAGE } from './model-commands.js';

const ALL_ENGINES: readonly string[] = [...DSCONV_ENGINES, ...PEER_ENGINES];

const USAGE = `usage: dsconv bench [--quick] [--layout NHWC|NCHW] [--layers NAME,...] [--engines ID,...]
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
  --markdown FILE  write the README's table: GMAC/s per layer and engine, dsconv's ratios
  --breakdown    also time the phases of dsconv's forward() (BFP, kernel, epilogue, ...)

Layers: ${SUITE.map((l) => `"${l.name}"`).join(', ')}.

dsconv quantize and dsconv eval (a TF.js model with DSConv layers): see dsconv quantize --help,
dsconv eval --help.`;

class UsageError extends Error {}

interface BenchArgs {
  quick: boolean;
  layout: 'NCHW' | 'NHWC';
  layers: LayerSpec[];
  engines: string[];
  enginesGiven: boolean;
  json?: string;
  svg?: string;
  markdown?: string;
  breakdown: boolean;
}

function parseBenchArgs(args: readonly string[]): BenchArgs {
  const a: BenchArgs = { quick: false, layout: 'NHWC', layers: [...SUITE], engines: [...ALL_ENGINES], enginesGiven: false, breakdown: false };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--quick') a.quick = true;
    else if (flag === '--breakdown') a.breakdown = true;
    else if (flag === '--json') a.json = value();
    else if (flag === '--svg') a.svg = value();
    else if (flag === '--markdown') a.markdown = value();
    else if (flag === '--layout') {
      const v = value().toUpperCase();
      if (v !== 'NCHW' && v !== 'NHWC') throw new UsageError(`--layout must be NHWC or NCHW, got ${args[i]}`);
      a.layout = v;
    } else if (flag === '--layers') {
      try {
        a.layers = selectLayers(value().split(','));
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    } else if (flag === '--engines') {
      const ids = value().split(',').map((e) => e.trim());
      for (const id of ids) if (!ALL_ENGINES.includes(id)) throw new UsageError(`unknown engine ${JSON.stringify(id)}; engines are ${ALL_ENGINES.join(', ')}`);
      a.engines = ALL_ENGINES.filter((id) => ids.includes(id));
      a.enginesGiven = true;
    } else throw new UsageError(`unknown option ${flag}`);
  }
  return a;
}

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

function write(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

/** `dsconv bench ...`; resolves with the exit status. */
async function bench(args: readonly string[]): Promise<number> {
  const a = parseBenchArgs(args);
  const peerIds = a.engines.filter((e): e is PeerId => (PEER_ENGINES as readonly string[]).includes(e));
  const { engines: peers, unavailable } = await loadPeers(peerIds, a.enginesGiven);
  const ours = dsconvEngines(a.layout).filter((e) => a.engines.includes(e.id));
  const engines: Engine[] = [...ours, ...peers];
  const machine = `${cpus()[0]?.model.trim() || 'unknown CPU'} (${cpus().length} cores)`;
  await init();
  const relaxed = getInfo().build === 'relaxed';
  const out = process.stdout;
  out.write(`dsconv bench: Node ${process.version}, ${relaxed ? 'relaxed-SIMD' : 'portable SIMD'} build, ${machine}\n`);
  out.write(`batch 1, one thread; layouts: dsconv ${a.layout}, xnnpack NHWC, ort NCHW (each engine gets its input in its layout)\n`);
  out.write(`${a.quick ? 'quick run; ' : ''}engines take turns over ${ROUNDS} rounds after a warm-up; each figure is the median of all samples\n`);
  out.write('one timed call includes:\n');
  for (const e of engines) out.write(`  ${e.id.padEnd(12)} ${e.timing}\n`);
  for (const u of unavailable) out.write(`  ${u.id.padEnd(12)} unavailable (${u.reason.split('\n')[0]})\n`);
  out.write('\n');
  const progress = progressReporter(process.stderr);
  const results = await runBench({ layers: a.layers, engines, ...(a.quick ? { maxTime: 0.3, minTime: 0.02, minSamples: 3 } : { maxTime: 1 }), ...progress });
  progress.clear();
  out.write(`${formatTable(results)}\n\n`);
  out.write('One-off preparation (building the layer and its first call), weight bytes kept, and SQNR against dsconv-f32.\n'
    + 'dsconv: wasm memory the layer keeps for its weights (packed VQK, scales), plus per input shape the indirection\n'
    + 'buffer and epilogue made by the first call; peers: the bytes handed to them (their packed copies are not visible).\n'
    + `${formatWeights(results)}\n`);
  if (a.breakdown) {
    const mine = ours.length ? ours : dsconvEngines(a.layout);
    const b = await runBreakdown({ layers: a.layers, engines: mine, calls: a.quick ? 10 : undefined, onProgress: progress.onProgress });
    progress.clear();
    out.write(`\nWhere dsconv's forward() spends its time (mean of many calls; the per-block rescale is inside the kernel):\n${formatBreakdown(b)}\n`);
  }
  const doc = benchJson(results, { node: process.version, relaxed });
  if (a.json) write(a.json, `${JSON.stringify(doc, null, 1)}\n`);
  if (a.markdown) write(a.markdown, markdownTable(doc));
  if (a.svg) write(a.svg, benchSvg(results, { machine, node: process.version, note: `${relaxed ? 'relaxed-SIMD' : 'portable SIMD'} build${a.quick ? ', --quick run' : ''}` }));
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h' || (cmd === 'bench' && (rest.includes('--help') || rest.includes('-h')))) {
    console.log(USAGE);
    return 0;
  }
  if (cmd === 'bench') return bench(rest);
  if (cmd === 'quantize' || cmd === 'eval') return modelCommand(cmd, rest);
  throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
}

async function modelCommand(cmd: 'quantize' | 'eval', rest: string[]): Promise<number> {
  const usage = cmd === 'quantize' ? QUANTIZE_USAGE : EVAL_USAGE;
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(usage);
    return 0;
  }
  try {
    return await (cmd === 'quantize' ? quantizeCommand(rest) : evalCommand(rest));
  } catch (e) {
    if (!(e instanceof ModelUsageError)) throw e;
    console.error(`dsconv ${cmd}: ${e.message}\n\n${usage}`);
    return 2;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
  if (e instanceof UsageError) {
    console.error(`dsconv: ${e.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else {
    console.error(`dsconv: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  }
});
