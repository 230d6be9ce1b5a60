// Command-line flags for every command: util.parseArgs (strict) with its errors reworded in the
// commands' terms, and the value readers they share.
import { parseArgs } from 'node:util';
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** A mistake in the command line: the command prints it with its usage and exits with status 2. */
export class UsageError extends Error {}

/** A reader: checks a flag's string value and converts it. */
export type Reader<T = unknown> = (value: string, flag: string) => T;

/** A flag that may be given many times (see `many`). */
export interface Repeated<T = unknown> { each: Reader<T> }

/** A flag: 'boolean' (given or not), a reader, or a repeated flag. */
export type Flag = 'boolean' | Reader | Repeated;

/** The flags given: a reader's result (for a repeated flag, one per time given, in order), `true` for a boolean flag; absent when not given. */
export type Flags<F extends Record<string, Flag>> = {
  [K in keyof F]?: F[K] extends Repeated<infer T> ? T[] : F[K] extends Reader<infer T> ? T : true;
};

/** A flag that may be given many times, each value read by `each`. */
export function many<T>(each: Reader<T>): Repeated<T> {
  return { each };
}

/**
 * Reads `argv` (no positional arguments). Each value is read in command-line order, so the first
 * bad one is the one reported; a flag given twice keeps its last value, unless it is `many`.
 */
export function readFlags<F extends Record<string, Flag>>(argv: readonly string[], flags: F): Flags<F> {
  const takesValue = (arg: string) => arg.startsWith('--') && Object.hasOwn(flags, arg.slice(2)) && flags[arg.slice(2)] !== 'boolean';
  // Strict parseArgs takes no separate value that starts with '-', yet the commands take some
  // (--range -1,1): those go inline. One that starts with '--' stays a missing value.
  const args: string[] = [];
  for (const arg of argv) {
    const prev = args.at(-1);
    if (prev !== undefined && /^-[^-]/.test(arg) && takesValue(prev)) args[args.length - 1] = `${prev}=${arg}`;
    else args.push(arg);
  }
  const options = Object.fromEntries(Object.entries(flags).map(([name, f]) => [name, { type: f === 'boolean' ? 'boolean' as const : 'string' as const }]));
  let tokens;
  try {
    ({ tokens } = parseArgs({ args, options, strict: true, tokens: true }));
  } catch (e) {
    throw reword(e);
  }
  const values: Record<string, unknown> = {};
  for (const t of tokens) {
    // A lone '--' would end the options; these commands have nothing to put after it.
    if (t.kind === 'option-terminator') throw new UsageError('unknown option --');
    if (t.kind !== 'option') continue;
    const f = flags[t.name];
    if (f === 'boolean') values[t.name] = true;
    else if (typeof f === 'function') values[t.name] = f(t.value!, t.rawName);
    else values[t.name] = [...(values[t.name] as unknown[] | undefined ?? []), f.each(t.value!, t.rawName)];
  }
  return values as Flags<F>;
}

/** parseArgs' error as a UsageError worded like the rest of the CLI's; other errors as they are. */
function reword(e: unknown): unknown {
  const { code, message } = e as { code?: string; message: string };
  // parseArgs quotes the option (or argument) it stopped at; if its wording changes, say what it says.
  const quoted = (re: RegExp) => re.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const arg = quoted(/'(.*)'/s);
    return new UsageError(arg === undefined ? message : `unknown option ${arg}`);
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flag = quoted(/'(--[^' ]+)/);
    if (flag === undefined) return new UsageError(message);
    return new UsageError(message.includes('does not take') ? `${flag} takes no value` : `${flag} needs a value`);
  }
  return e;
}

/**
 * Makes sure `file` (the value of `flag`) can be written, before a command's slow work: creates
 * its folder if missing, and refuses a folder or a place that cannot be written, naming the flag.
 */
export function prepareOutput(flag: string, file: string): void {
  const path = resolve(file), dir = dirname(path);
  // A stat that fails (a file where a folder should be) is left to mkdir below to report.
  const exists = (p: string) => { try { return statSync(p, { throwIfNoEntry: false }); } catch { return undefined; } };
  if (exists(path)?.isDirectory()) throw new UsageError(`${flag} ${file} is a folder; give a file name`);
  const fail = (what: string, e: unknown) => new Error(`${flag} ${file}: ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  if (exists(dir) && !exists(dir)!.isDirectory()) throw fail(`${dir} is a file, not a folder`, { code: 'ENOTDIR' });
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw fail(`cannot create the folder ${dir}`, e);
  }
  try {
    accessSync(exists(path) ? path : dir, constants.W_OK);
  } catch (e) {
    throw fail('cannot write there', e);
  }
}

/** A string value as given. */
export const text = (value: string): string => value;

/** A reader of an integer in [lo, hi]; `what` words the expectation in the error. */
export function int(lo: number, hi: number, what = `an integer in [${lo}, ${hi}]`) {
  return (value: string, flag: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new UsageError(`${flag} must be ${what}, got ${value}`);
    return n;
  };
}

/** A reader of one of `allowed`, compared after `normalize`. */
export function oneOf<T extends string>(allowed: readonly T[], normalize = (value: string) => value) {
  return (value: string, flag: string): T => {
    const v = normalize(value) as T;
    if (!allowed.includes(v)) throw new UsageError(`${flag} must be ${allowed.join(' or ')}, got ${value}`);
    return v;
  };
}

/** `H` or `HxW` as [H, W]. */
export function size(value: string, flag: string): [number, number] {
  const m = value.match(/^(\d+)(?:x(\d+))?$/);
  if (!m) throw new UsageError(`${flag} must be H or HxW, got ${value}`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

/** `LO,HI` with LO < HI as [LO, HI]. */
export function range(value: string, flag: string): [number, number] {
  const r = value.split(',').map(Number);
  if (r.length !== 2 || !r.every(Number.isFinite) || r[0] >= r[1]) throw new UsageError(`${flag} must be LO,HI with LO < HI, got ${value}`);
  return [r[0], r[1]];
}

/** The items of a comma list as given: each flag trims, refuses or drops empty items its own way. */
export function list(value: string): string[] {
  return value.split(',');
}
