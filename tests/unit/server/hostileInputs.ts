/**
 * Every hostile WebSocket input Loupe is tested against (hostile.test.ts) and that the hardening
 * bench counts: broken frames, oversized messages, and messages that are not requests.
 */
import { maxRequestBytes } from '../../../src/shared/bridge';
import { maxFrameBytes } from '../../../src/main/server/server';
import { encodeFrame } from './rawSocket';

const text = 0x1;
const binary = 0x2;
const close = 0x8;
const ping = 0x9;

/** A close frame's payload: the code, then the reason. */
const closePayload = (code: number, reason: Buffer = Buffer.alloc(0)) => {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(code);
  return Buffer.concat([out, reason]);
};
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const invalidUtf8 = Buffer.from([0x7b, 0xc3, 0x28, 0xff, 0xfe, 0x7d]);

/** What the server must do with a hostile input. */
type Outcome =
  /** ws closes this one socket with the code (the server lives on). */
  | { closes: number }
  /** The socket stays open and gets a VALIDATION reply with this id. */
  | { replies: number | null };

/** One hostile input: the frames it sends and what must happen. */
export interface HostileInput {
  name: string;
  frames: () => Buffer[];
  outcome: Outcome;
}

/** Every hostile input this test sends, exported so the count can be reported. */
export const hostileInputs: HostileInput[] = [
  { name: 'unknown data opcode 0x3', frames: () => [encodeFrame({ opcode: 0x3, payload: Buffer.from('x') })], outcome: { closes: 1002 } },
  { name: 'unknown control opcode 0xB', frames: () => [encodeFrame({ opcode: 0xb })], outcome: { closes: 1002 } },
  { name: 'RSV1 set without permessage-deflate', frames: () => [encodeFrame({ opcode: text, rsv: 0x40, payload: json({}) })], outcome: { closes: 1002 } },
  { name: 'RSV2 set', frames: () => [encodeFrame({ opcode: text, rsv: 0x20, payload: json({}) })], outcome: { closes: 1002 } },
  { name: 'RSV3 set', frames: () => [encodeFrame({ opcode: text, rsv: 0x10, payload: json({}) })], outcome: { closes: 1002 } },
  { name: 'unmasked client frame', frames: () => [encodeFrame({ opcode: text, masked: false, payload: json({}) })], outcome: { closes: 1002 } },
  { name: 'continuation with nothing to continue', frames: () => [encodeFrame({ opcode: 0x0, payload: Buffer.from('x') })], outcome: { closes: 1002 } },
  {
    name: 'new text frame inside a fragmented message',
    frames: () => [encodeFrame({ opcode: text, fin: false, payload: Buffer.from('{') }), encodeFrame({ opcode: text, payload: Buffer.from('}') })],
    outcome: { closes: 1002 },
  },
  { name: 'fragmented ping', frames: () => [encodeFrame({ opcode: ping, fin: false })], outcome: { closes: 1002 } },
  { name: 'ping over 125 bytes', frames: () => [encodeFrame({ opcode: ping, payload: Buffer.alloc(126, 1) })], outcome: { closes: 1002 } },
  { name: 'close frame with a 1-byte payload', frames: () => [encodeFrame({ opcode: close, payload: Buffer.from([3]) })], outcome: { closes: 1002 } },
  { name: 'close code 1005', frames: () => [encodeFrame({ opcode: close, payload: closePayload(1005) })], outcome: { closes: 1002 } },
  { name: 'close code 1006', frames: () => [encodeFrame({ opcode: close, payload: closePayload(1006) })], outcome: { closes: 1002 } },
  { name: 'close code 999', frames: () => [encodeFrame({ opcode: close, payload: closePayload(999) })], outcome: { closes: 1002 } },
  { name: 'close code 5000', frames: () => [encodeFrame({ opcode: close, payload: closePayload(5000) })], outcome: { closes: 1002 } },
  { name: 'close reason that is not UTF-8', frames: () => [encodeFrame({ opcode: close, payload: closePayload(1000, invalidUtf8) })], outcome: { closes: 1007 } },
  { name: 'text frame that is not UTF-8', frames: () => [encodeFrame({ opcode: text, payload: invalidUtf8 })], outcome: { closes: 1007 } },
  {
    name: 'fragmented text that is not UTF-8',
    frames: () => [encodeFrame({ opcode: text, fin: false, payload: Buffer.from([0xe2, 0x82]) }), encodeFrame({ opcode: 0x0, payload: Buffer.from([0x41]) })],
    outcome: { closes: 1007 },
  },
  { name: 'frame announcing more than maxFrameBytes', frames: () => [encodeFrame({ opcode: text, announcedLength: BigInt(maxFrameBytes + 1) })], outcome: { closes: 1009 } },
  { name: 'frame announcing 2^63 bytes', frames: () => [encodeFrame({ opcode: binary, announcedLength: 2n ** 63n })], outcome: { closes: 1009 } },
  {
    name: 'fragments adding up past maxFrameBytes',
    frames: () => [
      encodeFrame({ opcode: text, fin: false, payload: Buffer.alloc(1024, 0x20) }),
      encodeFrame({ opcode: 0x0, announcedLength: BigInt(maxFrameBytes) }),
    ],
    outcome: { closes: 1009 },
  },
  {
    name: 'JSON request over maxRequestBytes, with an id',
    frames: () => [encodeFrame({ opcode: text, payload: json({ id: 7, name: 'classes:create', input: { name: 'x'.repeat(maxRequestBytes) } }) })],
    outcome: { replies: 7 },
  },
  { name: 'non-JSON over maxRequestBytes', frames: () => [encodeFrame({ opcode: text, payload: Buffer.alloc(maxRequestBytes + 1, 0x61) })], outcome: { replies: null } },
  { name: 'not JSON', frames: () => [encodeFrame({ opcode: text, payload: Buffer.from('hello, loupe') })], outcome: { replies: null } },
  { name: 'empty text message', frames: () => [encodeFrame({ opcode: text })], outcome: { replies: null } },
  { name: 'JSON null', frames: () => [encodeFrame({ opcode: text, payload: json(null) })], outcome: { replies: null } },
  { name: 'JSON number', frames: () => [encodeFrame({ opcode: text, payload: json(42) })], outcome: { replies: null } },
  { name: 'JSON array', frames: () => [encodeFrame({ opcode: text, payload: json([1, 'project:current', {}]) })], outcome: { replies: null } },
  { name: 'request without an id', frames: () => [encodeFrame({ opcode: text, payload: json({ name: 'project:current', input: {} }) })], outcome: { replies: null } },
  { name: 'id that is a string', frames: () => [encodeFrame({ opcode: text, payload: json({ id: '1', name: 'project:current' }) })], outcome: { replies: null } },
  { name: 'id that is not an integer', frames: () => [encodeFrame({ opcode: text, payload: json({ id: 1.5, name: 'project:current' }) })], outcome: { replies: null } },
  { name: 'binary message', frames: () => [encodeFrame({ opcode: binary, payload: json({ id: 3, name: 'project:current', input: {} }) })], outcome: { replies: null } },
  { name: 'request without a name', frames: () => [encodeFrame({ opcode: text, payload: json({ id: 11, input: {} }) })], outcome: { replies: 11 } },
  { name: 'name that is an object', frames: () => [encodeFrame({ opcode: text, payload: json({ id: 12, name: { toString: 1 } }) })], outcome: { replies: 12 } },
  ...['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'no:such', ''].map((name, i) => ({
    name: `unknown request name ${JSON.stringify(name)}`,
    frames: () => [encodeFrame({ opcode: text, payload: json({ id: 20 + i, name, input: {} }) })],
    outcome: { replies: 20 + i },
  })),
  {
    name: '__proto__ as a raw JSON key',
    frames: () => [encodeFrame({ opcode: text, payload: Buffer.from('{"id":30,"name":"classes:create","input":{"__proto__":{"name":"polluted"}}}') })],
    outcome: { replies: 30 },
  },
  {
    name: 'request name of 1 MiB',
    frames: () => [encodeFrame({ opcode: text, payload: json({ id: 31, name: 'a'.repeat(1024 * 1024), input: {} }) })],
    outcome: { replies: 31 },
  },
  {
    name: 'class name of 5 MiB',
    frames: () => [encodeFrame({ opcode: text, payload: json({ id: 32, name: 'classes:create', input: { name: 'c'.repeat(5 * 1024 * 1024) } }) })],
    outcome: { replies: 32 },
  },
];
