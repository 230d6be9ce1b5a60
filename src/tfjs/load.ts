// Loading a standalone quantized model (.dsqm, artifact.ts): the tfjs model rebuilt from it, its
// convs dequantized from the packed weights (tfjs needs tensors of the right shape), and the
// plug-in installed with its bundle, so the convs run on the stored VQK, KDS and CDS.
// Like useDSConv, tfjs is never imported: the caller passes its namespace.
import { rt } from '../core/runtime.js';
import { describe, object, keysOf, knownOptions } from '../core/validate.js';
import { isBytes, readWasm } from '../core/wasm-source.js';
import { decodeArtifact, type DecodedArtifact } from './artifact.js';
import { useDSConv } from './plugin.js';
import type { DSConvPlugin, TfLike } from './types.js';

/** What the loaders are given: an IOHandler whose load() gives the artifact's model. */
export interface ArtifactIOHandler { load(): Promise<DecodedArtifact['artifacts']> }

/** The tfjs namespace with the loader the artifact's format needs (`@tensorflow/tfjs` has both). */
export interface LoadTfLike extends TfLike {
  loadLayersModel?(handler: ArtifactIOHandler): Promise<unknown>;
  loadGraphModel?(handler: ArtifactIOHandler): Promise<unknown>;
}

export interface LoadQuantizedOptions {
  /** Backends whose conv kernels the plug-in replaces (as for useDSConv). Default ['cpu', 'wasm']. */
  backends?: string[];
}

export interface QuantizedModel<M = unknown> {
  /** The tfjs LayersModel or GraphModel (typed as the `tf` given returns them). */
  model: M;
  /** The installed plug-in: `plugin.restore()` puts tfjs's conv kernels back. */
  plugin: DSConvPlugin;
  format: 'layers-model' | 'graph-model';
  /** The bundle's provenance (settings, calibration images...). */
  meta: Record<string, unknown>;
}

/** What a loader of `tf` resolves to (never when `tf` lacks it). */
type Loaded<F> = F extends (handler: ArtifactIOHandler) => Promise<infer M> ? M : never;

const OPTION_KEYS = keysOf<LoadQuantizedOptions>({ backends: 1 });

/**
 * Loads an artifact written by `dsconv quantize --artifact` (or `encodeArtifact`) from bytes, a URL
 * (fetched; relative to the page in browsers), or in Node a file path or `file:` URL, and installs
 * the plug-in on it. Call after `await init()`; only one plug-in is active at a time.
 */
export async function loadQuantizedModel<T extends LoadTfLike>(tf: T, source: Uint8Array | ArrayBuffer | string | URL, options: LoadQuantizedOptions = {})
  : Promise<QuantizedModel<Loaded<T['loadLayersModel']> | Loaded<T['loadGraphModel']>>> {
  rt(); // init() must have run: fail before the download, not after
  const o = object('options', options);
  knownOptions('options', o, OPTION_KEYS);
  let bytes: Uint8Array | ArrayBuffer;
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) bytes = source;
  else if (typeof source === 'string' || source instanceof URL) {
    const got = await readWasm(source, 'the quantized model');
    bytes = isBytes(got) ? got : await got.arrayBuffer();
  } else {
    throw new TypeError(`source must be the artifact's bytes (Uint8Array or ArrayBuffer), a URL, or in Node a file path, got ${describe(source)}`);
  }
  const a = decodeArtifact(bytes);
  const loader = a.format === 'graph-model' ? 'loadGraphModel' : 'loadLayersModel';
  if (typeof tf?.[loader] !== 'function') {
    throw new TypeError(`tf must be the TensorFlow.js namespace with ${loader} (this artifact is a ${a.format}); pass @tensorflow/tfjs, or tfjs-core's namespace with ${loader} from @tensorflow/${a.format === 'graph-model' ? 'tfjs-converter' : 'tfjs-layers'}`);
  }
  const model = await tf[loader]!({ load: async () => a.artifacts });
  let plugin: DSConvPlugin;
  try {
    plugin = useDSConv(tf, { bundle: a.bundle, model, ...(o.backends === undefined ? {} : { backends: o.backends as string[] }) });
  } catch (e) {
    (model as { dispose?: () => void }).dispose?.();
    throw e;
  }
  return { model: model as Loaded<T['loadLayersModel']> | Loaded<T['loadGraphModel']>, plugin, format: a.format, meta: a.meta };
}
