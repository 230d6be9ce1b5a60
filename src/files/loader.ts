// A TF.js IOHandler that loads a model from local files in Node (what tfjs-node's file:// would
// do, which cannot be installed here). Reads model.json and its weight shards from the same folder.
// Models shipped as CommonJS wrappers (model.min.js exporting the JSON, shards exporting base64,
// as nsfwjs ships them) load the same way.
import { readFileSync, existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { concatBytes } from '../core/bytes.js';

/** What tfjs.loadLayersModel / loadGraphModel accept as a handler. */
export interface FileIOHandler {
  load(): Promise<ModelArtifacts>;
}

/**
 * The model.json fields tfjs reads, typed so that tfjs's own IOHandler type accepts this one
 * (checked by test/tfjs/types.test.js); the file's other fields are passed through untyped.
 */
export interface ModelArtifacts {
  modelTopology: Record<string, unknown>;
  weightSpecs: WeightSpec[];
  weightData: ArrayBuffer;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

/** A weight of the manifest: its dtype as tfjs names them, and how it is quantized, if it is. */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool' | 'string' | 'complex64';
  quantization?: { dtype: 'uint16' | 'uint8' | 'float16'; scale?: number; min?: number; original_dtype?: 'float32' | 'int32' | 'bool' | 'string' | 'complex64' };
}

interface ModelJson {
  modelTopology: Record<string, unknown>;
  weightsManifest: { paths: string[]; weights: ModelArtifacts['weightSpecs'] }[];
  format?: string;
  [k: string]: unknown;
}

/** The model file `path` names: itself, or the model.json inside it when it is a folder. */
function modelFile(path: string): string {
  if (typeof path !== 'string') throw new TypeError(`path must be a string (a model.json file or its folder), got ${typeof path}`);
  const file = resolve(path);
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st) throw new RangeError(`model file not found: ${file}`);
  if (!st.isDirectory()) return file;
  const inside = join(file, 'model.json');
  if (existsSync(inside)) return inside;
  throw new RangeError(`${file} is a folder with no model.json in it; give the model's .json (or .js) file`);
}

/** Reads model.json (or a CommonJS model.min.js, or a folder's model.json) and returns its parsed JSON. */
export function readModelJson(path: string): ModelJson {
  const file = modelFile(path);
  let json: unknown;
  if (file.endsWith('.js') || file.endsWith('.cjs')) json = createRequire(import.meta.url)(file);
  else {
    try { json = JSON.parse(readFileSync(file, 'utf8')); } catch (e) { throw new RangeError(`${file} is not valid JSON: ${(e as Error).message}`); }
  }
  const m = json as ModelJson;
  if (!m || typeof m !== 'object' || typeof m.modelTopology !== 'object' || !Array.isArray(m.weightsManifest)) {
    throw new RangeError(`${file} is not a TF.js model (expected modelTopology and weightsManifest)`);
  }
  return m;
}

/** 'layers-model' or 'graph-model', from the file's format field or its topology. */
export function modelFormat(m: ModelJson): 'layers-model' | 'graph-model' {
  if (m.format === 'layers-model' || m.format === 'graph-model') return m.format;
  return 'node' in m.modelTopology ? 'graph-model' : 'layers-model';
}

/** An IOHandler for `tf.loadLayersModel(fileIO(path))` or `tf.loadGraphModel(fileIO(path))`; `path` may be the model's folder. */
export function fileIO(path: string): FileIOHandler {
  const m = readModelJson(path);
  const dir = dirname(modelFile(path));
  return {
    async load() {
      const buffers: Uint8Array[] = [];
      const weightSpecs: ModelArtifacts['weightSpecs'] = [];
      for (const group of m.weightsManifest) {
        for (const p of group.paths) buffers.push(readShard(dir, p));
        weightSpecs.push(...group.weights);
      }
      const data = concatBytes(buffers);
      const { modelTopology, weightsManifest: _, ...rest } = m;
      return { ...rest, modelTopology, weightSpecs, weightData: data.buffer } as ModelArtifacts;
    },
  };
}

function readShard(dir: string, p: string): Uint8Array {
  const file = join(dir, p);
  if (existsSync(file)) return new Uint8Array(readFileSync(file));
  for (const ext of ['.min.js', '.js']) {
    if (!existsSync(file + ext)) continue;
    const v = createRequire(import.meta.url)(file + ext) as unknown;
    if (typeof v === 'string') return new Uint8Array(Buffer.from(v, 'base64'));
    if (v instanceof Uint8Array) return v;
  }
  throw new RangeError(`weight shard not found: ${file}`);
}
