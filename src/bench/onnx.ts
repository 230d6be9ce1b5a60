// Just enough of the ONNX protobuf format to write one-convolution models in memory, so the
// benchmark can hand onnxruntime a model without a protobuf dependency or a file on disk.
// Field numbers are those of onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto,
// TensorProto, ValueInfoProto, TypeProto, TensorShapeProto, OperatorSetIdProto).
import { concatBytes } from '../core/bytes.js';

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6 } as const;

type Bytes = Uint8Array;
const utf8 = new TextEncoder();

function varint(n: number): number[] {
  // Non-negative integers below 2^53 (dims, enums, lengths): 7 bits per byte, low first.
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

const key = (field: number, wire: number) => varint(field * 8 + wire);
/** Wire type 0: an integer field. */
const int = (field: number, v: number): Bytes => new Uint8Array([...key(field, 0), ...varint(v)]);
/** Wire type 2: bytes, a string or an embedded message. */
const len = (field: number, b: Bytes): Bytes => concatBytes([new Uint8Array([...key(field, 2), ...varint(b.length)]), b]);
const str = (field: number, s: string): Bytes => len(field, utf8.encode(s));
const msg = (field: number, ...parts: Bytes[]): Bytes => len(field, concatBytes(parts));
/** A packed repeated integer field. */
const ints = (field: number, vs: readonly number[]): Bytes => len(field, new Uint8Array(vs.flatMap(varint)));

export type TensorData = Float32Array | Int8Array | Uint8Array | Int32Array;

function dataType(data: TensorData): number {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof Int8Array) return DataType.INT8;
  if (data instanceof Uint8Array) return DataType.UINT8;
  return DataType.INT32;
}

/** A TensorProto with raw little-endian data (every platform that runs wasm is little-endian). */
export function tensor(name: string, dims: readonly number[], data: TensorData): Bytes {
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return concatBytes([ints(1, dims), int(2, dataType(data)), str(8, name), len(9, raw)]);
}

export type Attribute = number | readonly number[];

/** AttributeProto: a number is an INT (2), an array INTS (7); floats are not needed here. */
function attribute(name: string, v: Attribute): Bytes {
  return typeof v === 'number'
    ? concatBytes([str(1, name), int(3, v), int(20, 2)])
    : concatBytes([str(1, name), ints(8, v), int(20, 7)]);
}

export interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, Attribute>;
}

function node(n: Node, i: number): Bytes {
  return concatBytes([
    ...n.inputs.map((s) => str(1, s)),
    ...n.outputs.map((s) => str(2, s)),
    str(3, `${n.op}_${i}`),
    str(4, n.op),
    ...Object.entries(n.attributes ?? {}).map(([k, v]) => msg(5, attribute(k, v))),
  ]);
}

/** ValueInfoProto of a tensor with a fixed shape. */
function valueInfo(name: string, elemType: number, dims: readonly number[]): Bytes {
  const shape = concatBytes(dims.map((d) => msg(1, int(1, d))));
  return concatBytes([str(1, name), msg(2, msg(1, int(1, elemType), msg(2, shape)))]);
}

export interface Graph {
  nodes: Node[];
  initializers: { name: string; dims: readonly number[]; data: TensorData }[];
  input: { name: string; dims: readonly number[] };
  output: { name: string; dims: readonly number[] };
}

/** A serialised ModelProto (IR version 7, default-domain opset 13) with float32 input and output. */
export function model(g: Graph): Uint8Array {
  const graph = concatBytes([
    ...g.nodes.map((n, i) => msg(1, node(n, i))),
    str(2, 'dsconv-bench'),
    ...g.initializers.map((t) => msg(5, tensor(t.name, t.dims, t.data))),
    msg(11, valueInfo(g.input.name, DataType.FLOAT, g.input.dims)),
    msg(12, valueInfo(g.output.name, DataType.FLOAT, g.output.dims)),
  ]);
  return concatBytes([int(1, 7), str(2, 'dsconv'), msg(7, graph), msg(8, str(1, ''), int(2, 13))]);
}
