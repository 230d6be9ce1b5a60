#!/usr/bin/env node
// The `dsconv` command: picks the subcommand. A usage error prints one line naming the problem and
// one pointing at the command's --help, on stderr, and exits with status 2 (the whole usage would
// bury the line that matters); any other error exits with status 1.
import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';
import { benchCommand, BENCH_USAGE } from './bench.js';
import { quantizeCommand, QUANTIZE_USAGE } from './quantize.js';
import { evalCommand, EVAL_USAGE } from './eval.js';

interface Command { run: (argv: readonly string[]) => Promise<number>; usage: string }

const COMMANDS: Record<string, Command> = {
  quantize: { run: quantizeCommand, usage: QUANTIZE_USAGE },
  eval: { run: evalCommand, usage: EVAL_USAGE },
  bench: { run: benchCommand, usage: BENCH_USAGE },
};

const USAGE = `usage: dsconv <command> [flags]

Commands:
  quantize   quantize the convolutions of a TF.js model into a .dsq bundle, optionally calibrated
  eval       run a TF.js model and its DSConv version on the same images and compare them
  bench      time DSConv against float32 and int8 convolutions on eleven ResNet, VGG, MobileNetV2 layers

dsconv <command> --help lists a command's flags; dsconv --version prints the version.`;

/** The version in the package.json beside dist/ (the repository's, or the installed package's). */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    console.log(USAGE);
    return 0;
  }
  if (name === '--version' || name === '-v') {
    console.log(version());
    return 0;
  }
  // `dsconv help quantize` is `dsconv quantize --help`.
  const [cmdName, args] = name === 'help' ? [rest[0], ['--help']] : [name, rest];
  const cmd = Object.hasOwn(COMMANDS, cmdName) ? COMMANDS[cmdName] : undefined;
  if (!cmd) {
    console.error(`dsconv: unknown command ${JSON.stringify(cmdName)}; the commands are ${Object.keys(COMMANDS).join(', ')}\nRun 'dsconv --help' for usage.`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    console.log(cmd.usage);
    return 0;
  }
  try {
    return await cmd.run(args);
  } catch (e) {
    if (!(e instanceof UsageError)) {
      console.error(`dsconv ${cmdName}: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
    console.error(`dsconv ${cmdName}: ${e.message}\nRun 'dsconv ${cmdName} --help' for usage.`);
    return 2;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
  console.error(`dsconv: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
