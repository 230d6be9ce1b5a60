// The calibration images as batches: one tensor, an array, an iterable or async iterable of
// tensors, or a function returning one of those. Tensors calibrate pulls from an iterator are
// disposed once used; those the caller passed (a tensor, an array) stay the caller's.
import { describe } from '../../core/validate.js';

export interface Tensor { shape: number[]; dispose(): void }

const WANT = 'a tf.Tensor batch, an array, iterable or async iterable of them, or a function returning one';

function isTensor(v: unknown): v is Tensor {
  const s = (v as { shape?: unknown } | null)?.shape;
  return Array.isArray(s) && s.length >= 1 && typeof (v as { dispose?: unknown }).dispose === 'function';
}

function checked(v: unknown, what: string): Tensor {
  if (!isTensor(v)) throw new TypeError(`${what} must be a tf.Tensor batch (images along the first axis), got ${describe(v)}`);
  if (!(v.shape[0] >= 1)) throw new RangeError(`${what} holds no images (shape ${JSON.stringify(v.shape)})`);
  return v;
}

function iterable(v: unknown): boolean {
  const o = v as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown } | null;
  return !!o && (typeof o[Symbol.iterator] === 'function' || typeof o[Symbol.asyncIterator] === 'function');
}

/** The number of images when `images` tells it (a tensor or an array), else undefined; a TypeError if it is none of the accepted forms. */
export function knownCount(images: unknown): number | undefined {
  if (isTensor(images)) return checked(images, 'images').shape[0];
  if (Array.isArray(images)) return images.reduce((n: number, t, i) => n + checked(t, `images[${i}]`).shape[0], 0);
  if (typeof images === 'function' || iterable(images)) return undefined;
  throw new TypeError(`images must be ${WANT}, got ${describe(images)}`);
}

/** How many batches `images` holds when it tells (a tensor: one; an array: its length). */
export function knownBatches(images: unknown): number | undefined {
  return isTensor(images) ? 1 : Array.isArray(images) ? images.length : undefined;
}

/** The batches; each is disposed, if it is calibrate's to dispose, when the consumer moves on. */
export async function* batches(images: unknown): AsyncGenerator<Tensor> {
  if (isTensor(images)) { yield images; return; }
  if (Array.isArray(images)) { yield* images as Tensor[]; return; }
  let source = images;
  if (typeof source === 'function') {
    source = (source as () => unknown)();
    if (!iterable(source)) {
      throw new TypeError(`images() must return an iterable or async iterable of tf.Tensor batches (e.g. images is a generator function), got ${describe(source)}`);
    }
  }
  let i = 0;
  for await (const t of source as AsyncIterable<unknown>) {
    try {
      yield checked(t, `batch ${i++} of images`);
    } finally {
      (t as { dispose?: () => void } | null)?.dispose?.();
    }
  }
}
