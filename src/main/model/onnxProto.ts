/**
 * The few ONNX protobuf messages an exporter writes (ModelProto, GraphProto, NodeProto,
 * AttributeProto, TensorProto, ValueInfoProto), encoded by hand in the protobuf wire format.
 * Messages are built from byte chunks, so a large weight tensor is copied, never spread.
 */

/** Encoded bytes of one message or field. */
export type Bytes = Uint8Array;

function concat(parts: readonly Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

// Negative int64s are written as their 64-bit two's complement, as protobuf does.
function varint(value: number | bigint): Bytes {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Uint8Array.from(out);
}

const key = (field: number, wire: 0 | 2 | 5) => varint((field << 3) | wire);
const int = (field: number, value: number) => concat([key(field, 0), varint(value)]);
const bytes = (field: number, data: Bytes) => concat([key(field, 2), varint(data.length), data]);
const text = (field: number, value: string) => bytes(field, Buffer.from(value, 'utf8'));
const message = (field: number, parts: readonly Bytes[]) => bytes(field, concat(parts));
function float32(field: number, value: number): Bytes {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, value, true);
  return concat([key(field, 5), b]);
}

// AttributeProto.type values.
const attributeType = { float: 1, int: 2, ints: 7 } as const;

/** AttributeProto fields (name 1, f 2, i 3, ints 8, type 20). */
export const attribute = {
  float: (name: string, value: number): Bytes => concat([text(1, name), float32(2, value), int(20, attributeType.float)]),
  int: (name: string, value: number): Bytes => concat([text(1, name), int(3, value), int(20, attributeType.int)]),
  ints: (name: string, values: readonly number[]): Bytes => concat([text(1, name), ...values.map((v) => int(8, v)), int(20, attributeType.ints)]),
};

/** A NodeProto (input 1, output 2, name 3, op_type 4, attribute 5). */
export function node(op: string, inputs: readonly string[], outputs: readonly string[], name: string, attributes: readonly Bytes[] = []): Bytes {
  return concat([...inputs.map((i) => text(1, i)), ...outputs.map((o) => text(2, o)), text(3, name), text(4, op), ...attributes.map((a) => bytes(5, a))]);
}

/** A float TensorProto (dims 1, data_type 2 = FLOAT, name 8, raw_data 9, little-endian). */
export function tensorProto(name: string, dims: readonly number[], values: Float32Array): Bytes {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return concat([...dims.map((d) => int(1, d)), int(2, 1), text(8, name), bytes(9, raw)]);
}

/** A float tensor's ValueInfoProto; string dims are symbolic (the batch). */
export function valueInfo(name: string, dims: ReadonlyArray<number | string>): Bytes {
  const shape = dims.map((d) => message(1, [typeof d === 'number' ? int(1, d) : text(2, d)]));
  // TypeProto.tensor_type (1) { elem_type 1 = FLOAT, shape 2 { dim 1 } }
  return concat([text(1, name), message(2, [message(1, [int(1, 1), message(2, shape)])])]);
}

/** A ModelProto: IR version 7, the default domain at opset 13. */
export function encodeModel(model: {
  producer: string;
  graphName: string;
  nodes: readonly Bytes[];
  initializers: readonly Bytes[];
  inputs: readonly Bytes[];
  outputs: readonly Bytes[];
}): Uint8Array {
  // GraphProto: node 1, name 2, initializer 5, input 11, output 12.
  const graph = concat([
    ...model.nodes.map((n) => bytes(1, n)),
    text(2, model.graphName),
    ...model.initializers.map((t) => bytes(5, t)),
    ...model.inputs.map((i) => bytes(11, i)),
    ...model.outputs.map((o) => bytes(12, o)),
  ]);
  // ModelProto: ir_version 1, producer_name 2, graph 7, opset_import 8 { domain 1, version 2 }.
  return concat([int(1, 7), text(2, model.producer), bytes(7, graph), message(8, [text(1, ''), int(2, 13)])]);
}
