/** Test helpers: raw frame building (independent of the encoder) and wiring. */
import type { Connection, ConnectionEvent } from "../core/connection.ts";

const enc = new TextEncoder();

/** Options for {@linkcode rawFrame}. */
export interface RawFrameOptions {
  fin?: boolean;
  rsv?: number;
  /** A 4-byte mask key, or false for no mask. Default: a fixed key. */
  mask?: Uint8Array | false;
  /** Override the length field form: 7, 16 or 64 bits. */
  lengthForm?: 7 | 16 | 64;
}

/** Builds one frame byte by byte, the way the RFC describes it. */
export function rawFrame(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  options: RawFrameOptions = {},
): Uint8Array {
  const data = typeof payload === "string" ? enc.encode(payload) : payload;
  const mask = options.mask === undefined
    ? new Uint8Array([0x37, 0xfa, 0x21, 0x3d])
    : options.mask;
  const len = data.length;
  const form = options.lengthForm ?? (len < 126 ? 7 : len < 65536 ? 16 : 64);
  const head: number[] = [
    ((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode,
  ];
  const maskBit = mask ? 0x80 : 0;
  if (form === 7) head.push(maskBit | len);
  else if (form === 16) head.push(maskBit | 126, len >> 8, len & 255);
  else {
    head.push(maskBit | 127);
    const hi = Math.floor(len / 2 ** 32);
    head.push(
      hi >>> 24,
      (hi >>> 16) & 255,
      (hi >>> 8) & 255,
      hi & 255,
      len >>> 24,
      (len >>> 16) & 255,
      (len >>> 8) & 255,
      len & 255,
    );
  }
  if (mask) head.push(...mask);
  const out = new Uint8Array(head.length + len);
  out.set(head);
  for (let i = 0; i < len; i++) {
    out[head.length + i] = mask ? data[i] ^ mask[i & 3] : data[i];
  }
  return out;
}

/** A frame as a client sends it (masked). */
export function clientFrame(
  opcode: number,
  payload?: Uint8Array | string,
  options: RawFrameOptions = {},
): Uint8Array {
  return rawFrame(opcode, payload, options);
}

/** A frame as a server sends it (unmasked). */
export function serverFrame(
  opcode: number,
  payload?: Uint8Array | string,
  options: RawFrameOptions = {},
): Uint8Array {
  return rawFrame(opcode, payload, { ...options, mask: false });
}

/** Close frame payload bytes: code then reason. */
export function closeBody(code: number, reason = ""): Uint8Array {
  const r = enc.encode(reason);
  const out = new Uint8Array(2 + r.length);
  out[0] = code >> 8;
  out[1] = code & 255;
  out.set(r, 2);
  return out;
}

/** Joins byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Feeds `bytes` to `conn` in chunks of `size` (copies, as a socket would). */
export function feed(
  conn: Connection,
  bytes: Uint8Array,
  size = bytes.length || 1,
): ConnectionEvent[] {
  const events: ConnectionEvent[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    events.push(...conn.receive(bytes.slice(i, i + size)));
  }
  return events;
}

/** Moves every pending output chunk of `from` into `to`; returns events. */
export function pump(from: Connection, to: Connection): ConnectionEvent[] {
  const events: ConnectionEvent[] = [];
  for (const chunk of from.takeOutput()) {
    events.push(...to.receive(chunk.slice()));
  }
  return events;
}

/** All output of `conn` joined into one array. */
export function output(conn: Connection): Uint8Array {
  return concat(...conn.takeOutput());
}

/** The close event among `events`, asserting there is exactly one. */
export function closeOf(
  events: readonly ConnectionEvent[],
): Extract<ConnectionEvent, { type: "close" }> {
  const closes = events.filter((e) => e.type === "close");
  if (closes.length !== 1) {
    throw new Error(`expected one close event, got ${closes.length}`);
  }
  return closes[0] as Extract<ConnectionEvent, { type: "close" }>;
}

/** Messages among `events`. */
export function messages(
  events: readonly ConnectionEvent[],
): (string | Uint8Array)[] {
  return events.flatMap((e) => e.type === "message" ? [e.data] : []);
}

/**
 * Close codes a close frame may carry (RFC 6455 §7.4): every defined one
 * that may go on the wire, and both ends of the registered and private
 * ranges.
 */
export const VALID_CLOSE_CODES: readonly number[] = [
  1000,
  1001,
  1002,
  1003,
  1007,
  1008,
  1009,
  1010,
  1011,
  1012,
  1013,
  1014,
  3000,
  3999,
  4000,
  4999,
];
