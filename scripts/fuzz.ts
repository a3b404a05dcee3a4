/**
 * A seeded fuzzer for wskit's sans-IO core: random and mutated input (valid
 * frames with bit flips, random splits, truncated handshakes, random bytes)
 * fed to the server and client `Connection` (through the opening handshake
 * and starting `OPEN`) and to the HTTP head parser.
 *
 *   npm run fuzz -- --iterations 100000
 *   npm run fuzz -- --seed 1234 --iterations 100000
 *   npm run fuzz -- --seed 1234 --iteration 5678   # replay one iteration
 *   npm run fuzz -- --time 300 --iterations 1e9     # as many as fit in 5 min
 *
 * Every iteration derives its own PRNG state from (seed, iteration), so a
 * failure printed as `seed=S iteration=I` replays alone. What each
 * iteration checks:
 * - nothing throws out of `receive()` (nor out of commands called in states
 *   where they are allowed), and no failure is an internal error (1011);
 * - a connection reports exactly one `close` once the transport closed,
 *   at most one `error` (before the close, with the same code) and nothing
 *   after the close;
 * - output is bounded by a small multiple of the input plus a constant, and
 *   every frame written is well formed (checked by an independent reader);
 * - messages respect `maxMessageSize`;
 * - the same bytes split differently give the same events and output;
 * - a valid conversation is received exactly as sent;
 * - the HTTP parser either finishes, asks for more, or throws an
 *   `HttpError` 400/431, the same way whatever the split, within its limits;
 * - no iteration takes long (`--max-ms`, default 2000) and the heap does not
 *   grow without bound.
 *
 * @module
 */

import process from "node:process";
import { pathToFileURL } from "node:url";
import {
  Connection,
  type ConnectionEvent,
  ReadyState,
} from "../core/connection.ts";
import { computeAccept, type UpgradeRequest } from "../core/handshake.ts";
import { HttpError, HttpHeadParser } from "../core/http.ts";
import { VALID_CLOSE_CODES } from "../tests/helpers.ts";

// ---- a seeded PRNG ----

/** A small, fast, seeded PRNG (mulberry32) with helpers. */
export class Rng {
  #state: number;

  /** Creates a generator from a 32-bit seed. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.next() / 0x1_0000_0000) * n);
  }

  /** A uniform integer in [low, high]. */
  range(low: number, high: number): number {
    return low + this.int(high - low + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }
}

/** The seed of one iteration, mixed from the run's seed and its index. */
export function iterationSeed(seed: number, iteration: number): number {
  let z = (seed ^ Math.imul(iteration + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

// ---- building input ----

const enc = new TextEncoder();
const strict = new TextDecoder("utf-8", { fatal: true });

function join(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** A payload length: mostly small, sometimes at the 7/16/64-bit edges. */
function payloadLength(rng: Rng): number {
  const r = rng.int(100);
  if (r < 35) return rng.range(0, 10);
  if (r < 65) return rng.range(11, 125);
  if (r < 80) return rng.range(126, 1000);
  if (r < 92) return rng.range(1000, 6000);
  if (r < 98) return rng.range(65530, 65540);
  return rng.range(65541, 200_000);
}

/** Random valid UTF-8 of about `n` bytes, mixing 1- to 4-byte characters. */
function randomText(rng: Rng, n: number): Uint8Array {
  const chars: number[] = [];
  let size = 0;
  while (size < n) {
    const kind = rng.int(10);
    let cp: number;
    if (kind < 5) cp = rng.range(0x20, 0x7e);
    else if (kind < 7) cp = rng.range(0x80, 0x7ff);
    else if (kind < 9) {
      cp = rng.range(0x800, 0xfffd);
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xe000;
    } else cp = rng.range(0x10000, 0x10ffff);
    chars.push(cp);
    size += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return enc.encode(String.fromCodePoint(...chars.slice(0, 50_000))).subarray(
    0,
    Math.max(0, size),
  );
}

interface FrameSpec {
  opcode: number;
  payload: Uint8Array;
  fin?: boolean;
  rsv?: number;
  /** Masked (as a client sends) or not. */
  masked: boolean;
  /** Use a longer length form than needed. */
  wideLength?: boolean;
}

/** Encodes one frame by hand (RFC 6455 §5.2), independently of core/encoder. */
function frame(rng: Rng, spec: FrameSpec): Uint8Array {
  const data = spec.payload;
  const len = data.length;
  let extra = len < 126 ? 0 : len < 65536 ? 2 : 8;
  if (spec.wideLength && extra < 8) extra = extra === 0 ? 2 : 8;
  const headSize = 2 + extra + (spec.masked ? 4 : 0);
  const out = new Uint8Array(headSize + len);
  out[0] = ((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) |
    spec.opcode;
  const maskBit = spec.masked ? 0x80 : 0;
  const view = new DataView(out.buffer);
  if (extra === 0) out[1] = maskBit | len;
  else if (extra === 2) {
    out[1] = maskBit | 126;
    view.setUint16(2, len);
  } else {
    out[1] = maskBit | 127;
    view.setUint32(2, Math.floor(len / 2 ** 32));
    view.setUint32(6, len >>> 0);
  }
  if (spec.masked) {
    const key = rng.bytes(4);
    out.set(key, 2 + extra);
    for (let i = 0; i < len; i++) out[headSize + i] = data[i] ^ key[i & 3];
  } else {
    out.set(data, headSize);
  }
  return out;
}

/** RFC 6455 §7.4: the codes a close frame may carry. */
function validWireCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/** What a valid conversation should produce at the receiving end. */
interface Expected {
  messages: (string | Uint8Array)[];
  pings: Uint8Array[];
  pongs: Uint8Array[];
  /** The close the peer sent last (code undefined: an empty close). */
  close?: { code?: number; reason: string };
}

/**
 * A valid conversation as the peer of `role` sends it: messages (some
 * fragmented, with pings and pongs between fragments), lone pings and
 * pongs, and sometimes a close at the end.
 */
function conversation(
  rng: Rng,
  role: "client" | "server",
  maxMessage: number,
): { bytes: Uint8Array; expected: Expected } {
  const masked = role === "server"; // frames sent TO a server are masked
  const parts: Uint8Array[] = [];
  const expected: Expected = { messages: [], pings: [], pongs: [] };
  const control = () => {
    const ping = rng.chance(0.5);
    const payload = rng.bytes(rng.range(0, rng.chance(0.1) ? 125 : 20));
    (ping ? expected.pings : expected.pongs).push(payload);
    parts.push(frame(rng, { opcode: ping ? 9 : 10, payload, masked }));
  };
  const items = rng.range(0, 8);
  for (let i = 0; i < items; i++) {
    if (rng.chance(0.25)) {
      control();
      continue;
    }
    const text = rng.chance(0.5);
    const size = Math.min(payloadLength(rng), maxMessage);
    const payload = text ? randomText(rng, size) : rng.bytes(size);
    const data = text ? strict.decode(payload) : payload;
    if (payload.length > maxMessage) continue;
    expected.messages.push(data);
    const pieces = rng.chance(0.6) ? 1 : rng.range(2, 6);
    let offset = 0;
    for (let k = 0; k < pieces; k++) {
      const end = k === pieces - 1
        ? payload.length
        : rng.range(offset, payload.length);
      parts.push(frame(rng, {
        opcode: k === 0 ? (text ? 1 : 2) : 0,
        payload: payload.subarray(offset, end),
        fin: k === pieces - 1,
        masked,
        wideLength: rng.chance(0.05),
      }));
      offset = end;
      if (k < pieces - 1 && rng.chance(0.3)) control();
    }
  }
  if (rng.chance(0.5)) {
    if (rng.chance(0.2)) {
      expected.close = { reason: "" };
      parts.push(frame(rng, { opcode: 8, payload: new Uint8Array(0), masked }));
    } else {
      const code = rng.pick(VALID_CLOSE_CODES);
      const reason = strict.decode(randomText(rng, rng.range(0, 40)));
      const r = enc.encode(reason);
      if (r.length <= 123) {
        const payload = new Uint8Array(2 + r.length);
        payload[0] = code >> 8;
        payload[1] = code & 0xff;
        payload.set(r, 2);
        expected.close = { code, reason };
        parts.push(frame(rng, { opcode: 8, payload, masked }));
      }
    }
  }
  return { bytes: join(parts), expected };
}

/** Frames of any kind, valid or not: reserved opcodes and bits, bad lengths. */
function wildFrames(rng: Rng, role: "client" | "server"): Uint8Array {
  const parts: Uint8Array[] = [];
  const count = rng.range(1, 10);
  for (let i = 0; i < count; i++) {
    const opcode = rng.chance(0.8)
      ? rng.pick([0, 1, 2, 8, 9, 10])
      : rng.range(0, 15);
    let payload: Uint8Array;
    if (opcode === 8 && rng.chance(0.7)) {
      const code = rng.chance(0.5)
        ? rng.pick(VALID_CLOSE_CODES)
        : rng.range(0, 65535);
      const reason = rng.chance(0.7)
        ? randomText(rng, rng.range(0, 30))
        : rng.bytes(rng.range(0, 130));
      payload = join([new Uint8Array([code >> 8, code & 0xff]), reason]);
    } else if (opcode === 1 && rng.chance(0.5)) {
      payload = randomText(rng, payloadLength(rng));
    } else {
      payload = rng.bytes(
        opcode >= 8 ? rng.range(0, rng.chance(0.1) ? 130 : 125) : payloadLength(
          rng,
        ),
      );
    }
    parts.push(frame(rng, {
      opcode,
      payload,
      fin: rng.chance(0.8),
      rsv: rng.chance(0.1) ? rng.range(1, 7) : 0,
      masked: rng.chance(0.95) ? role === "server" : role !== "server",
      wideLength: rng.chance(0.05),
    }));
  }
  return join(parts);
}

/** Applies 1-4 random mutations: bit flips, byte sets, inserts, deletes, cuts. */
function mutate(rng: Rng, input: Uint8Array): Uint8Array {
  let bytes: Uint8Array = input.slice();
  const count = rng.range(1, 4);
  for (let i = 0; i < count; i++) {
    // Bias toward the start, where the headers are.
    const at = () =>
      bytes.length === 0
        ? 0
        : rng.chance(0.5)
        ? rng.int(Math.min(bytes.length, 32))
        : rng.int(bytes.length);
    switch (rng.int(7)) {
      case 0:
      case 1: {
        const n = rng.range(1, 8);
        for (let k = 0; k < n && bytes.length > 0; k++) {
          bytes[at()] ^= 1 << rng.int(8);
        }
        break;
      }
      case 2:
        if (bytes.length > 0) bytes[at()] = rng.pick([0, 0x7f, 0x80, 0xff]);
        break;
      case 3: {
        const p = at();
        bytes = join([
          bytes.subarray(0, p),
          rng.bytes(rng.range(1, 16)),
          bytes.subarray(p),
        ]);
        break;
      }
      case 4: {
        const p = at();
        bytes = join([
          bytes.subarray(0, p),
          bytes.subarray(Math.min(bytes.length, p + rng.range(1, 16))),
        ]);
        break;
      }
      case 5:
        bytes = bytes.slice(0, rng.int(bytes.length + 1));
        break;
      default: {
        const p = at();
        const q = Math.min(bytes.length, p + rng.range(1, 64));
        bytes = join([
          bytes.subarray(0, q),
          bytes.subarray(p, q),
          bytes.subarray(q),
        ]);
      }
    }
  }
  return bytes;
}

/** Cuts `bytes` into chunks: one, 1-byte, or random sizes (each a copy). */
function split(rng: Rng, bytes: Uint8Array): Uint8Array[] {
  const mode = rng.int(10);
  const chunks: Uint8Array[] = [];
  if (mode === 0 || bytes.length === 0) return [bytes.slice()];
  const tiny = mode === 1 && bytes.length <= 4096;
  for (let i = 0; i < bytes.length;) {
    const size = tiny ? 1 : rng.range(1, rng.chance(0.5) ? 16 : 4096);
    chunks.push(bytes.slice(i, i + size));
    i += size;
  }
  return chunks;
}

// ---- checking a connection ----

/** Thrown for a property violation (vs. an unexpected crash). */
class FuzzFailure extends Error {}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new FuzzFailure(message);
}

/** One line per event, for comparing two runs. */
function eventLine(event: ConnectionEvent): string {
  switch (event.type) {
    case "message":
      return typeof event.data === "string"
        ? `text ${event.data.length} ${hash(enc.encode(event.data))}`
        : `binary ${event.data.length} ${hash(event.data)}`;
    case "ping":
    case "pong":
      return `${event.type} ${hash(event.data)}`;
    case "error":
      return `error ${event.code} ${event.status ?? ""}`;
    case "close":
      return `close ${event.code} ${event.wasClean} ${event.reason}`;
    case "open":
      return `open ${event.protocol} ${event.extensions}`;
    case "request":
      return `request ${event.request.target}`;
    case "suspend":
      return "suspend";
  }
}

function hash(data: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) {
    h = Math.imul(h ^ data[i], 0x01000193);
  }
  return (h >>> 0).toString(16);
}

interface WireFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
}

/** Reads frames from `bytes` (RFC 6455 §5.2); throws on a truncated one. */
function readFrames(bytes: Uint8Array): WireFrame[] {
  const frames: WireFrame[] = [];
  let p = 0;
  while (p < bytes.length) {
    check(p + 2 <= bytes.length, "output ends inside a frame header");
    const b0 = bytes[p];
    const b1 = bytes[p + 1];
    const masked = (b1 & 0x80) !== 0;
    let len = b1 & 0x7f;
    let q = p + 2;
    if (len === 126) {
      len = (bytes[q] << 8) | bytes[q + 1];
      q += 2;
    } else if (len === 127) {
      len = 0;
      for (let i = 0; i < 8; i++) len = len * 256 + bytes[q + i];
      q += 8;
    }
    const key = masked ? bytes.subarray(q, q + 4) : undefined;
    if (masked) q += 4;
    check(q + len <= bytes.length, "output ends inside a frame payload");
    const payload = bytes.slice(q, q + len);
    if (key) { for (let i = 0; i < len; i++) payload[i] ^= key[i & 3]; }
    frames.push({
      fin: (b0 & 0x80) !== 0,
      rsv: (b0 >> 4) & 7,
      opcode: b0 & 0xf,
      masked,
      payload,
    });
    p = q + len;
  }
  return frames;
}

/** Checks frames a connection of `role` wrote: well formed, nothing after close. */
function checkOutputFrames(frames: WireFrame[], role: string): void {
  let closed = false;
  let fragmented = false;
  for (const f of frames) {
    check(!closed, "a frame after our close frame");
    check(f.masked === (role === "client"), `masking wrong for a ${role}`);
    check(f.rsv === 0, "RSV bits set with no extension");
    check([0, 1, 2, 8, 9, 10].includes(f.opcode), `opcode ${f.opcode}`);
    if (f.opcode >= 8) {
      check(f.fin, "a fragmented control frame");
      check(f.payload.length <= 125, "a control frame over 125 bytes");
    } else {
      check(fragmented === (f.opcode === 0), "bad fragmentation in output");
      fragmented = !f.fin;
    }
    if (f.opcode === 8) {
      closed = true;
      check(f.payload.length !== 1, "a close frame with 1 byte of payload");
      if (f.payload.length >= 2) {
        const code = (f.payload[0] << 8) | f.payload[1];
        check(validWireCode(code), `we sent close code ${code}`);
        try {
          strict.decode(f.payload.subarray(2));
        } catch {
          throw new FuzzFailure("our close reason is not UTF-8");
        }
      }
    }
    if (f.opcode === 1 && f.fin) {
      try {
        strict.decode(f.payload);
      } catch {
        throw new FuzzFailure("we sent a text frame that is not UTF-8");
      }
    }
  }
}

/** Wraps a connection, recording events, input and output, and checks rules. */
class Probe {
  readonly conn: Connection;
  readonly events: ConnectionEvent[] = [];
  readonly output: Uint8Array[] = [];
  input = 0;
  commandBytes = 0;
  maxMessage: number;

  constructor(conn: Connection, maxMessage: number) {
    this.conn = conn;
    this.maxMessage = maxMessage;
    this.drain();
  }

  get closed(): boolean {
    return this.events.some((e) => e.type === "close");
  }

  /** Feeds a chunk; `receive` must not throw. */
  receive(chunk: Uint8Array): readonly ConnectionEvent[] {
    this.input += chunk.length;
    let events: readonly ConnectionEvent[];
    try {
      events = this.conn.receive(chunk);
    } catch (error) {
      throw new FuzzFailure(`receive() threw: ${describe(error)}`);
    }
    this.record(events);
    return events;
  }

  record(events: readonly ConnectionEvent[]): void {
    for (const event of events) {
      check(!this.closed, `a ${event.type} event after the close event`);
      this.events.push(event);
      if (event.type === "message") {
        const size = typeof event.data === "string"
          ? enc.encode(event.data).length
          : event.data.length;
        check(size <= this.maxMessage, `a message over maxMessageSize`);
      }
      if (event.type === "close") {
        check(this.conn.state === ReadyState.CLOSED, "close but not CLOSED");
      }
    }
    this.drain();
  }

  drain(): void {
    for (const chunk of this.conn.takeOutput()) this.output.push(chunk.slice());
  }

  /** Calls a command that must not throw in this state. */
  command(name: string, run: () => readonly ConnectionEvent[] | void): void {
    let events: readonly ConnectionEvent[] | void;
    try {
      events = run();
    } catch (error) {
      throw new FuzzFailure(`${name}() threw: ${describe(error)}`);
    }
    if (events) this.record(events);
    else this.drain();
  }

  /** A random command allowed in the current state. */
  randomCommand(rng: Rng): void {
    const state = this.conn.state;
    const r = rng.int(10);
    if (state === ReadyState.OPEN && r < 4) {
      const text = rng.chance(0.5);
      const size = rng.range(0, rng.chance(0.1) ? 70000 : 300);
      const data = text
        ? strict.decode(randomText(rng, size))
        : rng.bytes(size);
      this.commandBytes += size + 14;
      const fragmentSize = rng.chance(0.3) ? rng.range(1, 200) : undefined;
      if (fragmentSize) {
        this.commandBytes += 14 * Math.ceil(size / fragmentSize);
      }
      this.command("send", () => this.conn.send(data, { fragmentSize }));
    } else if (state === ReadyState.OPEN && r < 6) {
      const payload = rng.bytes(rng.range(0, 125));
      this.commandBytes += 125 + 14;
      this.command(
        "ping/pong",
        () =>
          rng.chance(0.5) ? this.conn.ping(payload) : this.conn.pong(payload),
      );
    } else if (r < 8) {
      this.commandBytes += 125 + 14;
      const code = rng.pick([undefined, 1000, 3000, 4999]);
      this.command("close", () => this.conn.close(code, code ? "bye" : ""));
    } else if (r < 9) {
      this.commandBytes += 125 + 14;
      this.command("fail", () => this.conn.fail(rng.pick([1008, 4000]), "no"));
    } else {
      this.command("timeout", () => this.conn.timeout());
    }
  }

  /** Closes the transport and checks the whole life of the connection. */
  finish(): void {
    this.command("transportClosed", () => this.conn.transportClosed());
    const closes = this.events.filter((e) => e.type === "close");
    check(closes.length === 1, `${closes.length} close events`);
    const close = closes[0] as Extract<ConnectionEvent, { type: "close" }>;
    check(
      this.events[this.events.length - 1] === close,
      "close is not the last event",
    );
    const errors = this.events.filter((e) => e.type === "error");
    check(errors.length <= 1, `${errors.length} error events`);
    if (errors.length === 1) {
      const error = errors[0] as Extract<ConnectionEvent, { type: "error" }>;
      check(error.code === close.code, "error and close codes differ");
      check(!close.wasClean, "an error, yet a clean close");
    }
    // 1011 from a failure (not from the peer's close frame) is a crash inside.
    check(
      close.code !== 1011 || close.wasClean,
      `an internal error: ${close.reason}`,
    );
    check(
      close.code === 1005 || close.code === 1006 || validWireCode(close.code),
      `close code ${close.code}`,
    );
    check(this.conn.state === ReadyState.CLOSED, "not CLOSED at the end");
    check(this.conn.wantsTransportClose, "does not want the transport closed");
    check(this.conn.timer === undefined, "a timer after the end");
    // Nothing more comes out of a closed connection.
    this.receive(new Uint8Array([0x81, 0x80, 1, 2, 3, 4]));
    this.command("timeout", () => this.conn.timeout());
    this.command("fail", () => this.conn.fail(1002, "again"));
    const out = this.output.reduce((n, c) => n + c.length, 0);
    const bound = 3 * this.input + 2 * this.commandBytes + 4096;
    check(out <= bound, `output ${out} bytes for ${this.input} in`);
  }

  /** The frames written after the HTTP head (if any). */
  outputFrames(): WireFrame[] {
    let bytes = join(this.output);
    const head = String.fromCharCode(...bytes.subarray(0, 4));
    if (head === "HTTP" || head === "GET ") {
      const end = indexOfBlankLine(bytes);
      check(end >= 0, "an HTTP head in the output without its end");
      bytes = bytes.subarray(end);
    }
    return readFrames(bytes);
  }
}

function indexOfBlankLine(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (
      bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 &&
      bytes[i - 3] === 13
    ) return i + 1;
  }
  return -1;
}

function describe(error: unknown): string {
  return error instanceof Error
    ? `${error.name}: ${error.message}`
    : String(error);
}

/** Random message limits, or the defaults. */
function limits(rng: Rng): { maxMessageSize?: number; maxFragments?: number } {
  if (rng.chance(0.6)) return {};
  return {
    maxMessageSize: rng.range(0, 100_000),
    maxFragments: rng.chance(0.5) ? rng.range(1, 50) : undefined,
  };
}

// ---- the targets ----

type Target = (rng: Rng) => number;

/** Feeds chunks, with random commands between them (probability `p`). */
function feed(
  rng: Rng,
  probe: Probe,
  chunks: Uint8Array[],
  p: number,
  onEvents?: (events: readonly ConnectionEvent[]) => void,
): void {
  for (const chunk of chunks) {
    const events = probe.receive(chunk);
    onEvents?.(events);
    if (p > 0 && rng.chance(p)) probe.randomCommand(rng);
  }
}

/** A connection that starts OPEN, fed a valid, mutated or wild conversation. */
const openConnection: Target = (rng) => {
  const role = rng.pick(["client", "server"] as const);
  const lim = limits(rng);
  const conn = new Connection({ role, ...lim });
  const probe = new Probe(conn, lim.maxMessageSize ?? 64 * 1024 * 1024);
  const kind = rng.int(10);
  let input: Uint8Array;
  if (kind < 3) input = conversation(rng, role, 1 << 20).bytes;
  else if (kind < 7) {
    input = mutate(rng, conversation(rng, role, 1 << 20).bytes);
  } else if (kind < 9) input = wildFrames(rng, role);
  else input = rng.bytes(rng.range(0, 2000));
  feed(rng, probe, split(rng, input), 0.1);
  probe.finish();
  checkOutputFrames(probe.outputFrames(), role);
  return input.length;
};

/** A valid conversation must be received exactly as it was sent. */
const roundTrip: Target = (rng) => {
  const role = rng.pick(["client", "server"] as const);
  const conn = new Connection({ role });
  const probe = new Probe(conn, 64 * 1024 * 1024);
  const { bytes, expected } = conversation(rng, role, 1 << 20);
  feed(rng, probe, split(rng, bytes), 0);
  const got = probe.events;
  const messages = got.flatMap((e) => e.type === "message" ? [e.data] : []);
  check(messages.length === expected.messages.length, "message count");
  for (let i = 0; i < messages.length; i++) {
    const a = messages[i];
    const b = expected.messages[i];
    check(
      typeof a === typeof b &&
        (typeof a === "string" ? a === b : hash(a) === hash(b as Uint8Array) &&
          a.length === (b as Uint8Array).length),
      `message ${i} differs`,
    );
  }
  const pings = got.flatMap((e) => e.type === "ping" ? [hash(e.data)] : []);
  check(
    pings.join() === expected.pings.map(hash).join(),
    "ping events differ",
  );
  const pongs = got.flatMap((e) => e.type === "pong" ? [hash(e.data)] : []);
  check(
    pongs.join() === expected.pongs.map(hash).join(),
    "pong events differ",
  );
  const close = got.find((e) => e.type === "close");
  if (expected.close) {
    check(close?.type === "close", "no close event for the peer's close");
    check(close.wasClean, "not clean");
    check(close.code === (expected.close.code ?? 1005), "close code differs");
    check(close.reason === expected.close.reason, "close reason differs");
  } else {
    check(close === undefined, "closed without a close frame");
  }
  // Our answers: a pong per ping, in order, then the close echo.
  const frames = probe.outputFrames();
  checkOutputFrames(frames, role);
  const pongsOut = frames.filter((f) => f.opcode === 10).map((f) =>
    hash(f.payload)
  );
  check(pongsOut.join() === pings.join(), "pongs do not answer the pings");
  if (expected.close) {
    const last = frames[frames.length - 1];
    check(last?.opcode === 8, "the close was not echoed");
  }
  probe.finish();
  return bytes.length;
};

/** The same bytes, split two ways, must give the same events and frames. */
const splitInvariance: Target = (rng) => {
  const role = rng.pick(["client", "server"] as const);
  const lim = limits(rng);
  const input = rng.chance(0.5)
    ? mutate(rng, conversation(rng, role, 1 << 20).bytes)
    : wildFrames(rng, role);
  const run = (chunks: Uint8Array[]) => {
    const probe = new Probe(new Connection({ role, ...lim }), Infinity);
    feed(rng, probe, chunks, 0);
    return {
      events: probe.events.map(eventLine).join("\n"),
      frames: probe.outputFrames().map((f) =>
        `${f.opcode} ${f.fin} ${hash(f.payload)}`
      ).join("\n"),
    };
  };
  const whole = run([input.slice()]);
  const pieces = run(split(rng, input));
  check(whole.events === pieces.events, "events depend on the split");
  check(whole.frames === pieces.frames, "output depends on the split");
  return input.length;
};

const EXTRA_HEADERS = [
  "Origin: http://example.test",
  "User-Agent: fuzz",
  "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
  "Cookie: a=b",
  "X-Empty:",
  "Connection: keep-alive",
  "Upgrade: h2c",
];

/** A valid upgrade request, sometimes with extra or odd headers. */
function upgradeRequest(rng: Rng): { bytes: Uint8Array; protocols: string[] } {
  const protocols = ["chat", "mqtt", "v12.stomp"].filter(() => rng.chance(0.4));
  const lines = [
    `GET /${rng.pick(["", "chat", "a/b?c=d", "%20"])} HTTP/1.1`,
    `Host: ${rng.pick(["example.test", "127.0.0.1:8080", "[::1]:9"])}`,
    `Upgrade: ${rng.pick(["websocket", "WebSocket"])}`,
    `Connection: ${rng.pick(["Upgrade", "keep-alive, Upgrade", "upgrade"])}`,
    `Sec-WebSocket-Key: ${btoa(String.fromCharCode(...rng.bytes(16)))}`,
    "Sec-WebSocket-Version: 13",
  ];
  if (protocols.length > 0) {
    lines.push(`Sec-WebSocket-Protocol: ${protocols.join(", ")}`);
  }
  const extras = rng.range(0, 3);
  for (let i = 0; i < extras; i++) {
    lines.splice(rng.range(1, lines.length), 0, rng.pick(EXTRA_HEADERS));
  }
  return { bytes: enc.encode(lines.join("\r\n") + "\r\n\r\n"), protocols };
}

/** Connection.server(): a request (maybe mutated or cut), then frames. */
const serverHandshake: Target = (rng) => {
  const lim = limits(rng);
  const conn = Connection.server({
    ...lim,
    httpLimits: rng.chance(0.2)
      ? { maxHeaderBytes: rng.range(16, 600), maxHeaders: rng.range(1, 10) }
      : undefined,
  });
  const probe = new Probe(conn, lim.maxMessageSize ?? 64 * 1024 * 1024);
  const request = upgradeRequest(rng);
  const frames = rng.chance(0.5)
    ? conversation(rng, "server", 1 << 20).bytes
    : wildFrames(rng, "server");
  let input = join([request.bytes, frames]);
  const kind = rng.int(10);
  if (kind < 3) input = mutate(rng, input);
  else if (kind < 5) input = input.subarray(0, rng.int(request.bytes.length));
  else if (kind < 6) input = mutate(rng, frames);
  let pending: UpgradeRequest | undefined;
  let accepted = false;
  let decided = false;
  const decide = (request: UpgradeRequest) => {
    decided = true;
    if (rng.chance(0.85)) {
      const protocol = request.protocols.length > 0 && rng.chance(0.7)
        ? rng.pick(request.protocols)
        : undefined;
      accepted = true;
      probe.command("accept", () => conn.accept({ protocol }));
    } else {
      probe.command(
        "reject",
        () => conn.reject(rng.pick([400, 401, 403, 404, 503])),
      );
    }
  };
  const ready = () =>
    pending !== undefined && !decided &&
    conn.state === ReadyState.CONNECTING;
  feed(rng, probe, split(rng, input), 0.05, (events) => {
    for (const event of events) {
      if (event.type === "request") pending = event.request;
    }
    if (ready() && rng.chance(0.7)) decide(pending!);
  });
  if (ready()) decide(pending!);
  if (rng.chance(0.3)) probe.command("timeout", () => conn.timeout());
  probe.finish();
  // A rejected request gets an HTTP response with a body, not frames.
  if (accepted) checkOutputFrames(probe.outputFrames(), "server");
  return input.length;
};

/** Connection.client(): a response (maybe mutated or cut), then frames. */
const clientHandshake: Target = (rng) => {
  const lim = limits(rng);
  const protocols = ["chat", "mqtt"].filter(() => rng.chance(0.5));
  const conn = Connection.client(
    `ws://example.test/${rng.pick(["", "x?y=1"])}`,
    { protocols, ...lim },
  );
  const probe = new Probe(conn, lim.maxMessageSize ?? 64 * 1024 * 1024);
  const request = new TextDecoder().decode(join(probe.output));
  const key = /\r\nSec-WebSocket-Key: (\S+)/i.exec(request)?.[1];
  check(key !== undefined, "no key in the client's request");
  const lines = [
    `HTTP/1.1 ${rng.chance(0.95) ? "101 Switching Protocols" : "200 OK"}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${
      rng.chance(0.95) ? computeAccept(key) : computeAccept("x")
    }`,
  ];
  if (protocols.length > 0 && rng.chance(0.8)) {
    lines.push(
      `Sec-WebSocket-Protocol: ${
        rng.chance(0.9) ? rng.pick(protocols) : "other"
      }`,
    );
  }
  const response = enc.encode(lines.join("\r\n") + "\r\n\r\n");
  const frames = rng.chance(0.5)
    ? conversation(rng, "client", 1 << 20).bytes
    : wildFrames(rng, "client");
  let input = join([response, frames]);
  const kind = rng.int(10);
  if (kind < 3) input = mutate(rng, input);
  else if (kind < 5) input = input.subarray(0, rng.int(response.length));
  else if (kind < 6) input = mutate(rng, frames);
  feed(rng, probe, split(rng, input), 0.05);
  probe.finish();
  // The request head is the first output; frames follow it.
  checkOutputFrames(probe.outputFrames(), "client");
  return input.length;
};

/** A request or response head, valid or not, for the HTTP parser. */
function httpHead(rng: Rng, request: boolean): Uint8Array {
  let text: string;
  if (request) text = new TextDecoder().decode(upgradeRequest(rng).bytes);
  else {
    text = [
      `HTTP/1.1 ${
        rng.pick(["101 Switching Protocols", "200 OK", "404 ", "599 x"])
      }`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    ].join("\r\n") + "\r\n\r\n";
  }
  const odd = [
    "\r\n",
    "X: a\r\n b\r\n",
    "Bad Name: x\r\n",
    "X:\tvalue\t\r\n",
    "X: \x01\r\n",
    "X: \xff\r\n",
    "\n",
    "\r",
    "X" + "a".repeat(rng.range(0, 3000)) + ": y\r\n",
    "__proto__: polluted\r\n",
    "constructor: x\r\n",
  ];
  if (rng.chance(0.4)) {
    const at = text.indexOf("\r\n") + 2;
    text = text.slice(0, at) + rng.pick(odd) + text.slice(at);
  }
  if (rng.chance(0.1)) text = "\r\n\r\n" + text;
  let bytes: Uint8Array = Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
  if (rng.chance(0.5)) bytes = mutate(rng, bytes);
  if (rng.chance(0.3)) bytes = join([bytes, rng.bytes(rng.range(0, 40))]);
  if (rng.chance(0.05)) bytes = rng.bytes(rng.range(0, 400));
  return bytes;
}

/** The HTTP head parser: same outcome for any split, only HttpError thrown. */
const httpParser: Target = (rng) => {
  const request = rng.chance(0.5);
  const maxHeaderBytes = rng.chance(0.5) ? rng.range(1, 800) : undefined;
  const maxHeaders = rng.chance(0.3) ? rng.range(0, 10) : undefined;
  const input = httpHead(rng, request);
  const make = () =>
    request
      ? HttpHeadParser.request({ maxHeaderBytes, maxHeaders })
      : HttpHeadParser.response({ maxHeaderBytes, maxHeaders });
  const run = (chunks: Uint8Array[]): string => {
    const parser = make();
    let consumed = 0;
    for (let i = 0; i < chunks.length; i++) {
      let result;
      try {
        result = parser.push(chunks[i]);
      } catch (error) {
        check(error instanceof HttpError, `push() threw ${describe(error)}`);
        check(
          error.status === 400 || error.status === 431,
          `status ${error.status}`,
        );
        // A failed parser keeps failing the same way.
        try {
          parser.push(new Uint8Array([0x41]));
          throw new FuzzFailure("a failed parser accepted more bytes");
        } catch (again) {
          check(again === error, "a failed parser threw something else");
        }
        return `error ${error.status}`;
      }
      if (result.done) {
        const used = consumed + chunks[i].length - result.rest.length;
        check(
          used <= (maxHeaderBytes ?? 16384),
          `a ${used}-byte head passed a ${maxHeaderBytes}-byte limit`,
        );
        const head = result.head;
        check(
          head.headers.size <= (maxHeaders ?? 100),
          "more headers than maxHeaders",
        );
        const fields = [...head.headers.entries()].map(([n, v]) => `${n}=${v}`);
        const line = "method" in head
          ? `${head.method} ${head.target} ${head.version}`
          : `${head.version} ${head.status} ${head.statusText}`;
        const rest = join([result.rest, ...chunks.slice(i + 1)]);
        return `done ${line}\n${fields.join("\n")}\nrest ${hash(rest)}`;
      }
      consumed += chunks[i].length;
    }
    return "incomplete";
  };
  const whole = run([input.slice()]);
  const pieces = run(split(rng, input));
  check(
    whole === pieces,
    `the split changed the outcome: ${whole} / ${pieces}`,
  );
  return input.length;
};

/** The targets and their weights. */
export const TARGETS: Record<string, [number, Target]> = {
  "open": [25, openConnection],
  "round-trip": [15, roundTrip],
  "split-invariance": [15, splitInvariance],
  "server-handshake": [15, serverHandshake],
  "client-handshake": [15, clientHandshake],
  "http-parser": [15, httpParser],
};

const WEIGHTS = Object.entries(TARGETS).flatMap(([name, [weight]]) =>
  Array<string>(weight).fill(name)
);

/** A failure the fuzzer found. */
export interface Failure {
  /** The run's seed. */
  seed: number;
  /** The iteration that failed (replay with --seed and --iteration). */
  iteration: number;
  /** Which target. */
  target: string;
  /** What went wrong. */
  message: string;
}

/** Runs one iteration; returns its target and input size, or throws. */
export function runIteration(
  seed: number,
  iteration: number,
): { target: string; bytes: number } {
  const rng = new Rng(iterationSeed(seed, iteration));
  const target = rng.pick(WEIGHTS);
  return { target, bytes: TARGETS[target][1](rng) };
}

/** Options for {@linkcode fuzz}. */
export interface FuzzOptions {
  /** How many iterations. */
  iterations: number;
  /** The run's seed (default: random). */
  seed?: number;
  /** Stop after this many milliseconds, whatever the count. */
  timeLimit?: number;
  /** Fail an iteration that takes longer than this (a hang). */
  maxIterationMs?: number;
  /** Stop at the first failure. */
  stopOnFailure?: boolean;
  /** Called now and then with the number of iterations done. */
  progress?: (done: number) => void;
}

/** What a run found. */
export interface FuzzReport {
  seed: number;
  iterations: number;
  failures: Failure[];
  /** Iterations per target. */
  targets: Record<string, number>;
  /** Input bytes fed in total. */
  bytes: number;
  /** The slowest iteration, in milliseconds. */
  slowestMs: number;
  /** Heap growth over the run, in bytes (after a GC when exposed). */
  heapGrowth: number;
  /** Wall time, in milliseconds. */
  elapsedMs: number;
}

function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  return process.memoryUsage().heapUsed;
}

/** Runs the fuzzer; see the module doc. */
export function fuzz(options: FuzzOptions): FuzzReport {
  const seed = options.seed ?? (Math.random() * 0x1_0000_0000) >>> 0;
  const start = performance.now();
  const heapBefore = heapUsed();
  const report: FuzzReport = {
    seed,
    iterations: 0,
    failures: [],
    targets: {},
    bytes: 0,
    slowestMs: 0,
    heapGrowth: 0,
    elapsedMs: 0,
  };
  for (let i = 0; i < options.iterations; i++) {
    if (
      options.timeLimit !== undefined &&
      performance.now() - start > options.timeLimit
    ) break;
    const t0 = performance.now();
    let target = "?";
    try {
      const result = runIteration(seed, i);
      target = result.target;
      report.bytes += result.bytes;
    } catch (error) {
      const rng = new Rng(iterationSeed(seed, i));
      target = rng.pick(WEIGHTS);
      report.failures.push({
        seed,
        iteration: i,
        target,
        message: error instanceof FuzzFailure
          ? error.message
          : `crash: ${describe(error)}`,
      });
    }
    const ms = performance.now() - t0;
    if (ms > report.slowestMs) report.slowestMs = ms;
    if (options.maxIterationMs !== undefined && ms > options.maxIterationMs) {
      report.failures.push({
        seed,
        iteration: i,
        target,
        message: `took ${ms.toFixed(0)} ms`,
      });
    }
    report.targets[target] = (report.targets[target] ?? 0) + 1;
    report.iterations++;
    if (options.stopOnFailure && report.failures.length > 0) break;
    if (options.progress && (i + 1) % 1000 === 0) options.progress(i + 1);
  }
  report.heapGrowth = heapUsed() - heapBefore;
  report.elapsedMs = performance.now() - start;
  return report;
}

// ---- the command line ----

function argument(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

function main(args: string[]): number {
  const seedArg = argument(args, "seed");
  const seed = seedArg === undefined
    ? (Math.random() * 0x1_0000_0000) >>> 0
    : Number(seedArg) >>> 0;
  const one = argument(args, "iteration");
  if (one !== undefined) {
    const iteration = Number(one);
    console.log(`replaying seed=${seed} iteration=${iteration}`);
    const result = runIteration(seed, iteration); // throws with the failure
    console.log(`ok: ${result.target}, ${result.bytes} bytes`);
    return 0;
  }
  const iterations = Number(argument(args, "iterations") ?? 10000);
  const time = argument(args, "time");
  const maxMs = Number(argument(args, "max-ms") ?? 2000);
  console.log(
    `fuzzing: seed=${seed} iterations=${iterations}` +
      (time ? ` time limit ${time} s` : ""),
  );
  let lastPrint = performance.now();
  const report = fuzz({
    iterations,
    seed,
    timeLimit: time === undefined ? undefined : Number(time) * 1000,
    maxIterationMs: maxMs,
    progress(done) {
      if (performance.now() - lastPrint > 10_000) {
        lastPrint = performance.now();
        console.log(`  ${done} iterations...`);
      }
    },
  });
  for (const f of report.failures.slice(0, 20)) {
    console.log(
      `FAIL seed=${f.seed} iteration=${f.iteration} [${f.target}] ${f.message}`,
    );
    console.log(
      `  replay: npm run fuzz -- --seed ${f.seed} --iteration ${f.iteration}`,
    );
  }
  const heapMiB = report.heapGrowth / 1024 / 1024;
  const heapLimit = 256;
  console.log(
    `${report.iterations} iterations in ${
      (report.elapsedMs / 1000).toFixed(1)
    } s, ${(report.bytes / 1024 / 1024).toFixed(1)} MiB of input, ` +
      `slowest ${report.slowestMs.toFixed(0)} ms, heap ${
        heapMiB >= 0 ? "+" : ""
      }${heapMiB.toFixed(1)} MiB`,
  );
  console.log(
    `targets: ${
      Object.entries(report.targets).map(([k, v]) => `${k} ${v}`).join(", ")
    }`,
  );
  if (heapMiB > heapLimit) {
    console.log(`FAIL the heap grew by more than ${heapLimit} MiB`);
    return 1;
  }
  console.log(
    report.failures.length === 0
      ? `no failures (seed ${seed})`
      : `${report.failures.length} failure(s) (seed ${seed})`,
  );
  return report.failures.length === 0 ? 0 : 1;
}

function isMain(): boolean {
  const meta = import.meta as ImportMeta & { main?: boolean };
  if (typeof meta.main === "boolean") return meta.main;
  const script = process.argv[1];
  return script !== undefined && pathToFileURL(script).href === import.meta.url;
}

if (isMain()) process.exitCode = main(process.argv.slice(2));
