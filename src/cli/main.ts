#!/usr/bin/env node
// The `dsconv` command: picks the subcommand. A usage error prints the message and the command's
// usage on stderr and exits with status 2; any other error exits with status 1.
import { UsageError } from './args.js';
import { benchCommand, BENCH_USAGE } from './bench.js';
import { quantizeCommand, QUANTIZE_USAGE } from './quantize.js';
import { evalCommand, EVAL_USAGE } from './eval.js';

interface Command { run: (argv: readonly string[]) => Promise<number>; usage: string; prefix: string }

// bench's errors have always been prefixed with plain "dsconv:".
const COMMANDS: Record<string, Command> = {
  bench: { run: benchCommand, usage: BENCH_USAGE, prefix: 'dsconv' },
  quantize: { run: quantizeCommand, usage: QUANTIZE_USAGE, prefix: 'dsconv quantize' },
  eval: { run: evalCommand, usage: EVAL_USAGE, prefix: 'dsconv eval' },
};

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    console.log(BENCH_USAGE);
    return 0;
  }
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!cmd) {
    console.error(`dsconv: unknown command ${JSON.stringify(name)}\n\n${BENCH_USAGE}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.usage);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${cmd.prefix}: ${e.message}\n\n${cmd.usage}`);
    return 2;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
  console.error(`dsconv: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
