#!/usr/bin/env node
// The `dsconv` command.
import { runBench, formatTable, RESNET18_3X3, ENGINES, type Engine } from './bench.js';
import { quantizeCommand, evalCommand, UsageError as ModelUsageError, QUANTIZE_USAGE, EVAL_USAGE } from './commands.js';

const USAGE = `usage: dsconv bench [--quick] [--layout NCHW|NHWC] [--layers NAME,...] [--engines ${ENGINES.join(',')}]

Times this package's DSConv (4-bit and 8-bit weights, B = 32, 8-bit mantissas) and float32 conv
on ResNet-18's 3x3 layers (batch 1, one thread) with benchmark.js and prints ms, GMAC/s and the
speed relative to the float32 conv. Layers: ${RESNET18_3X3.map((l) => `"${l.name}"`).join(', ')}.`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === 'quantize' || cmd === 'eval') return modelCommand(cmd, rest);
  if (cmd !== 'bench' || rest.includes('--help') || rest.includes('-h')) {
    console.log(USAGE);
    return cmd === undefined || cmd === 'bench' || cmd === 'help' || cmd === '--help' || cmd === '-h' ? 0 : 2;
  }
  let maxTime = 1;
  let layers = RESNET18_3X3;
  let engines: readonly Engine[] = ENGINES;
  let layout: 'NCHW' | 'NHWC' = 'NCHW';
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const value = () => {
      const v = rest[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') maxTime = 0.25;
    else if (a === '--layout') {
      const v = value();
      if (v !== 'NCHW' && v !== 'NHWC') throw new UsageError(`--layout must be NCHW or NHWC, got ${v}`);
      layout = v;
    } else if (a === '--layers') {
      const names = value().split(',');
      layers = names.map((n) => {
        const l = RESNET18_3X3.find((x) => x.name === n || x.name.startsWith(`${n} `) || x.name.startsWith(n));
        if (!l) throw new UsageError(`unknown layer ${JSON.stringify(n)}`);
        return l;
      });
    } else if (a === '--engines') {
      engines = value().split(',').map((e) => {
        if (!ENGINES.includes(e as Engine)) throw new UsageError(`unknown engine ${JSON.stringify(e)}`);
        return e as Engine;
      });
    } else throw new UsageError(`unknown option ${a}`);
  }
  console.log(`dsconv bench: node ${process.version}, ${layout}, batch 1, single thread`);
  const results = await runBench({
    layers, engines, maxTime, layout,
    onResult: (r) => process.stderr.write(`  ${r.layer} ${r.engine}: ${r.ms.toFixed(3)} ms\n`),
  });
  console.log(formatTable(results));
  return 0;
}

class UsageError extends Error {}

/** `dsconv quantize` and `dsconv eval` (src/commands.ts); their usage errors exit with status 2. */
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
    console.error(e);
    process.exitCode = 1;
  }
});
