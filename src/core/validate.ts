// Argument checks shared by the public API: each failure is a TypeError (wrong kind of value) or a
// RangeError (right kind, wrong value) whose message names the argument and what was expected.

/** Largest channel count, spatial size or batch accepted: keeps every index inside int32. */
export const MAX_DIM = 1 << 20;

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of length ${(v as unknown as ArrayLike<number>).length}`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return String(v);
  return typeof v;
}

export function int(name: string, v: unknown, min: number, max = MAX_DIM): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be an integer, got ${describe(v)}`);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
  }
  return v;
}

/** A number or [a, b] of integers >= min. */
export function intPair(name: string, v: unknown, min: number): [number, number] {
  if (typeof v === 'number') return [int(name, v, min), int(name, v, min)];
  if (Array.isArray(v) && v.length === 2) return [int(`${name}[0]`, v[0], min), int(`${name}[1]`, v[1], min)];
  throw new TypeError(`${name} must be an integer or [${name}H, ${name}W], got ${describe(v)}`);
}

// The engine's own length of a typed array: a subclass can override the `length` getter, and
// what is copied is the real contents.
const typedArray = Object.getPrototypeOf(Int8Array.prototype) as object;
const intrinsic = (name: string) => Object.getOwnPropertyDescriptor(typedArray, name)!.get!;
const typedLength = intrinsic('length');
const typedBuffer = intrinsic('buffer');
const typedOffset = intrinsic('byteOffset');

/**
 * Where a typed array's elements are, as the engine knows them (its getters can be overridden):
 * what a kernel may read or write in place. A detached view has length 0.
 */
export function viewOf(v: ArrayBufferView): { buffer: ArrayBufferLike; byteOffset: number; length: number } {
  return { buffer: typedBuffer.call(v) as ArrayBufferLike, byteOffset: typedOffset.call(v) as number, length: typedLength.call(v) as number };
}

export function float32Array(name: string, v: unknown, length: number, shape: string): Float32Array {
  if (!(v instanceof Float32Array)) {
    throw new TypeError(`${name} must be a Float32Array of length ${length} (${shape}), got ${describe(v)}`);
  }
  const n = typedLength.call(v) as number;
  if (n !== length) {
    throw new RangeError(`${name} must have length ${length} (${shape}), got ${n}`);
  }
  return v;
}

/** `v`, or `fallback` when v is undefined (null is a value, and is rejected by the check it meets). */
export function or<T>(v: unknown, fallback: T): unknown {
  return v === undefined ? fallback : v;
}

/** A Float32Array of `length` finite values (bias, CDS). */
export function finiteFloat32Array(name: string, v: unknown, length: number, shape: string): Float32Array {
  const a = float32Array(name, v, length, shape);
  requireFinite(name, a);
  return a;
}

/** Throws a RangeError naming the first NaN or ±Inf of `data`, if any. */
export function requireFinite(name: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) checkFinite(name, data, i);
}

export function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) {
    throw new (typeof v === 'string' ? RangeError : TypeError)(
      `${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(v)}`);
  }
  return v as T;
}

/**
 * Throws a TypeError naming the first own key of `o` that is not in `known`, and listing those:
 * plain JS gets no type check, and a misspelt option would silently keep its default.
 */
export function knownOptions(name: string, o: object, known: readonly string[]): void {
  // for...in allocates nothing, and hasOwn is asked only on a miss: forward() runs this per call.
  for (const k in o) {
    if (!known.includes(k) && Object.hasOwn(o, k)) {
      throw new TypeError(`${name} has an unknown option ${JSON.stringify(k)}; the options are ${known.join(', ')}`);
    }
  }
}

/** The option names of an options type, written as `{ name: 1, ... }` so tsc keeps them in step with it. */
export function keysOf<T>(names: Record<keyof T, 1>): readonly string[] {
  return Object.keys(names);
}

export function object(name: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new TypeError(`${name} must be an options object, got ${describe(v)}`);
  }
  return v as Record<string, unknown>;
}

/** Throws a RangeError naming the first NaN or ±Inf, if the wasm check found one at `index`. */
export function checkFinite(name: string, data: ArrayLike<number>, index: number): void {
  if (index >= 0) throw new RangeError(`${name}[${index}] is ${data[index]}; expected finite values`);
}
