/**
 * The conformance harness: raw TCP peers (node:net, which Node, Deno and Bun
 * all provide) that speak the WebSocket wire format byte by byte, so the
 * tests judge wskit's server and client from outside.
 *
 * - {@linkcode echoCase}: a fresh in-process echo server (the same options
 *   as examples/echo_server.ts) and a raw client that did the opening
 *   handshake by hand.
 * - {@linkcode clientCase}: a raw server that answers wskit's `WebSocket`
 *   client's handshake by hand, then sends exact bytes to it.
 *
 * The frame reader here is written from RFC 6455 §5.2 on purpose: wskit's
 * own decoder must not judge wskit's encoder.
 */
import assert from "node:assert/strict";
import * as net from "node:net";
import { createHash, randomBytes } from "node:crypto";
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import {
  computeAccept,
  serve,
  WebSocket,
  type WebSocketServer,
} from "../../mod.ts";
import type {
  WebSocketCloseEvent,
  WebSocketErrorEvent,
} from "../../socket/websocket.ts";

/** Opcodes, spelled out (the tests do not import the core's table). */
export const OP = {
  cont: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

const NAMES: Record<number, string> = {
  0: "cont",
  1: "text",
  2: "binary",
  8: "close",
  9: "ping",
  10: "pong",
};

/** How long one wait for the peer may take before the case fails. */
const WAIT_MS = 15000;

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 bytes of `text`. */
export function bytes(text: string): Uint8Array {
  return utf8.encode(text);
}

/** Bytes from hex, spaces allowed: `hex("ce ba e1")`. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

/** `n` bytes of a repeating, recognisable pattern (ASCII when `text`). */
export function pattern(n: number, text = false): Uint8Array {
  const out = new Uint8Array(n);
  if (text) {
    const abc = utf8.encode("Hello, wskit! *");
    for (let i = 0; i < n; i++) out[i] = abc[i % abc.length];
  } else {
    for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >>> 8)) & 0xff;
  }
  return out;
}

/** A frame as read off the wire. */
export interface WireFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  /** The payload, unmasked. */
  payload: Uint8Array;
}

/** FNV-1a, to name a large payload in a summary. */
function fnv(data: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) {
    h ^= data[i];
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

function toHex(data: Uint8Array): string {
  let s = "";
  for (const b of data) s += b.toString(16).padStart(2, "0");
  return s;
}

/** How a payload reads in a summary: short ones in full, long ones hashed. */
function render(opcode: number, data: Uint8Array): string {
  if (opcode === OP.text && data.length <= 64) {
    try {
      return strictUtf8.decode(data);
    } catch {
      return `!utf8 ${toHex(data)}`;
    }
  }
  if (data.length <= 32) return toHex(data);
  return `${data.length}#${fnv(data)}`;
}

/** The summary of a text message, to compare with {@linkcode summarize}. */
export function text(data: string | Uint8Array): string {
  const b = typeof data === "string" ? utf8.encode(data) : data;
  return `text:${render(OP.text, b)}`;
}

/** The summary of a binary message. */
export function binary(data: Uint8Array): string {
  return `binary:${render(OP.binary, data)}`;
}

/** The summary of a ping or pong. */
export function pong(data: string | Uint8Array = ""): string {
  const b = typeof data === "string" ? utf8.encode(data) : data;
  return `pong:${render(OP.pong, b)}`;
}

/** The summary of a close frame with `code` (undefined: empty payload). */
export function close(code?: number): string {
  return code === undefined ? "close:none" : `close:${code}`;
}

/**
 * One line per frame: `text:Hello`, `binary:00ff`, `pong:`, `close:1002`,
 * with `(nofin)`/`(rsvN)`/`(masked)`/`(unmasked)` marks for anything unusual
 * and `!` marks for frames that break the RFC (a control frame over 125
 * bytes, a 1-byte close payload, a close reason that is not UTF-8).
 */
export function summarize(frame: WireFrame, expectMasked: boolean): string {
  const name = NAMES[frame.opcode] ?? `op${frame.opcode}`;
  let marks = "";
  if (!frame.fin) marks += "(nofin)";
  if (frame.rsv !== 0) marks += `(rsv${frame.rsv})`;
  if (frame.masked !== expectMasked) {
    marks += frame.masked ? "(masked)" : "(unmasked)";
  }
  const p = frame.payload;
  if (frame.opcode >= 8 && p.length > 125) marks += "!long";
  if (frame.opcode === OP.close) {
    if (p.length === 0) return `close${marks}:none`;
    if (p.length === 1) return `close${marks}!short`;
    try {
      strictUtf8.decode(p.subarray(2));
    } catch {
      marks += "!reason";
    }
    return `close${marks}:${(p[0] << 8) | p[1]}`;
  }
  return `${name}${marks}:${render(frame.opcode, p)}`;
}

/** The close code and reason of a close frame. */
export function closeInfo(frame: WireFrame): { code?: number; reason: string } {
  const p = frame.payload;
  if (p.length < 2) return { reason: "" };
  return {
    code: (p[0] << 8) | p[1],
    reason: new TextDecoder().decode(p.subarray(2)),
  };
}

/** A growable byte queue: append at the end, consume from the front. */
class ByteQueue {
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;

  get length(): number {
    return this.#end - this.#start;
  }

  push(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#buf.length) {
      const live = this.length;
      if (live + chunk.length <= this.#buf.length) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        let size = this.#buf.length;
        while (size < live + chunk.length) size *= 2;
        const next = new Uint8Array(size);
        next.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = next;
      }
      this.#start = 0;
      this.#end = live;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** The byte at `i` from the front. */
  at(i: number): number {
    return this.#buf[this.#start + i];
  }

  /** Removes and returns (a copy of) the first `n` bytes. */
  take(n: number): Uint8Array {
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return out;
  }
}

/**
 * Reads one frame from the front of `q` if it is all there (RFC 6455 §5.2):
 * FIN, RSV1-3, opcode, MASK, 7/16/64-bit length, masking key, payload.
 */
function readFrame(q: ByteQueue): WireFrame | undefined {
  if (q.length < 2) return undefined;
  const b0 = q.at(0);
  const b1 = q.at(1);
  const masked = (b1 & 0x80) !== 0;
  let length = b1 & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (q.length < 4) return undefined;
    length = q.at(2) * 256 + q.at(3);
    offset = 4;
  } else if (length === 127) {
    if (q.length < 10) return undefined;
    length = 0;
    for (let i = 2; i < 10; i++) length = length * 256 + q.at(i);
    offset = 10;
  }
  const total = offset + (masked ? 4 : 0) + length;
  if (q.length < total) return undefined;
  const head = q.take(offset + (masked ? 4 : 0));
  const payload = q.take(length);
  if (masked) {
    for (let i = 0; i < length; i++) payload[i] ^= head[offset + (i & 3)];
  }
  return {
    fin: (b0 & 0x80) !== 0,
    rsv: (b0 >> 4) & 7,
    opcode: b0 & 0x0f,
    masked,
    payload,
  };
}

/** Resolves on the next macrotask, so separate writes leave separately. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1));
}

/** Options for {@linkcode RawPeer.write}. */
export interface WriteOptions {
  /** Write in pieces of this many bytes. */
  chunk?: number;
  /** Wait a macrotask between pieces (for small writes only). */
  pace?: boolean;
}

/**
 * One end of a raw TCP connection that speaks frames by hand. Reads are
 * buffered; {@linkcode RawPeer.next} returns whole frames in order, or
 * `null` once the peer closed the connection.
 */
export class RawPeer {
  readonly socket: net.Socket;
  /** Whether frames from the other end must be masked (we are the server). */
  readonly expectMasked: boolean;
  /** Set once the other end closed (FIN, reset or error). */
  ended = false;
  /** Every frame read so far. */
  readonly frames: WireFrame[] = [];
  /** The HTTP head the other end sent in the handshake. */
  head = "";
  /** Resolves when the socket is fully closed. */
  readonly closed: Promise<void>;
  readonly #queue = new ByteQueue();
  #wake?: () => void;

  constructor(socket: net.Socket, expectMasked: boolean, early?: Uint8Array) {
    this.socket = socket;
    this.expectMasked = expectMasked;
    socket.setNoDelay(true);
    if (early !== undefined && early.length > 0) this.#queue.push(early);
    socket.on("data", (chunk: Uint8Array) => {
      this.#queue.push(chunk);
      this.#poke();
    });
    socket.on("error", () => {});
    socket.on("end", () => {
      this.ended = true;
      this.#poke();
    });
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.ended = true;
        this.#poke();
        resolve();
      });
    });
  }

  #poke(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Waits for more bytes or the end; fails the case after a while. */
  #wait(what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        reject(
          new Error(
            `timed out waiting for ${what}; frames so far: ${
              JSON.stringify(this.summary())
            }`,
          ),
        );
      }, WAIT_MS);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** The next frame, or null when the connection ended before one came. */
  async next(): Promise<WireFrame | null> {
    for (;;) {
      const frame = readFrame(this.#queue);
      if (frame !== undefined) {
        this.frames.push(frame);
        return frame;
      }
      if (this.ended) {
        if (this.#queue.length > 0) {
          throw new Error(
            `the connection ended inside a frame (${this.#queue.length} bytes)`,
          );
        }
        return null;
      }
      await this.#wait("a frame");
    }
  }

  /** The next frame, which must exist. */
  async frame(): Promise<WireFrame> {
    const frame = await this.next();
    if (frame === null) {
      throw new Error(
        `the connection ended; frames so far: ${
          JSON.stringify(this.summary())
        }`,
      );
    }
    return frame;
  }

  /** Summaries of the frames read so far. */
  summary(): string[] {
    return this.frames.map((f) => summarize(f, this.expectMasked));
  }

  /** Reads until the other end closes the connection; returns all summaries. */
  async untilEnd(): Promise<string[]> {
    while ((await this.next()) !== null) { /* keep reading */ }
    return this.summary();
  }

  /** Waits until the other end closes the connection (without reading on). */
  async ends(): Promise<void> {
    while (!this.ended) await this.#wait("the connection to end");
  }

  /** Writes `data`, optionally in pieces. */
  async write(data: Uint8Array, options: WriteOptions = {}): Promise<void> {
    const size = options.chunk ?? data.length;
    if (size >= data.length) {
      this.socket.write(data);
      return;
    }
    for (let i = 0; i < data.length; i += size) {
      this.socket.write(data.slice(i, i + size));
      if (options.pace) await tick();
    }
  }

  /** Writes each frame separately, a macrotask apart. */
  async writeFrames(...frames: Uint8Array[]): Promise<void> {
    for (const frame of frames) {
      this.socket.write(frame);
      await tick();
    }
  }

  /** Half-closes (FIN) after what was written. */
  end(): void {
    this.socket.end();
  }

  /** Closes at once. */
  destroy(): void {
    this.socket.destroy();
  }
}

/** Connects a raw client and performs the opening handshake by hand. */
export async function rawConnect(
  port: number,
  options: {
    protocols?: string[];
    path?: string;
    /** Bytes to send in the same write as the request (early frames). */
    early?: Uint8Array;
  } = {},
): Promise<RawPeer> {
  const socket = net.connect({ host: "127.0.0.1", port });
  const key = randomBytes(16).toString("base64");
  const lines = [
    `GET ${options.path ?? "/"} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
  ];
  if (options.protocols?.length) {
    lines.push(`Sec-WebSocket-Protocol: ${options.protocols.join(", ")}`);
  }
  const request = new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n");
  const early = options.early ?? new Uint8Array(0);
  const first = new Uint8Array(request.length + early.length);
  first.set(request);
  first.set(early, request.length);
  const { head, rest } = await readHead(socket, () => socket.write(first));
  const [status, ...fields] = head.split("\r\n");
  if (!/^HTTP\/1\.1 101 /.test(status)) {
    socket.destroy();
    throw new Error(`handshake refused: ${head}`);
  }
  const expected = createHash("sha1")
    .update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
    .digest("base64");
  const accept = fields.find((f) => /^sec-websocket-accept:/i.test(f));
  if (accept?.split(":")[1].trim() !== expected) {
    socket.destroy();
    throw new Error(`bad Sec-WebSocket-Accept in: ${head}`);
  }
  const peer = new RawPeer(socket, false, rest);
  peer.head = head;
  return peer;
}

/** Reads an HTTP head (up to the blank line) and the bytes after it. */
function readHead(
  socket: net.Socket,
  start?: () => void,
): Promise<{ head: string; rest: Uint8Array }> {
  return new Promise((resolve, reject) => {
    let got = new Uint8Array(0);
    const timer = setTimeout(() => {
      cleanup();
      socket.destroy();
      reject(new Error("timed out waiting for an HTTP head"));
    }, WAIT_MS);
    const onData = (chunk: Uint8Array) => {
      const joined = new Uint8Array(got.length + chunk.length);
      joined.set(got);
      joined.set(chunk, got.length);
      got = joined;
      for (let i = 3; i < got.length; i++) {
        if (
          got[i - 3] === 13 && got[i - 2] === 10 && got[i - 1] === 13 &&
          got[i] === 10
        ) {
          cleanup();
          resolve({
            head: new TextDecoder("latin1").decode(got.subarray(0, i - 3)),
            rest: got.slice(i + 1),
          });
          return;
        }
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error("the connection ended during the handshake"));
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onEnd);
    };
    socket.on("data", onData);
    socket.on("close", onEnd);
    socket.on("error", () => {});
    start?.();
  });
}

/** The subprotocols examples/echo_server.ts speaks. */
const SUPPORTED = [
  "chat",
  "graphql-transport-ws",
  "graphql-ws",
  "mqtt",
  "v12.stomp",
];

/** Starts an echo server configured as examples/echo_server.ts is. */
export function startEchoServer(): Promise<WebSocketServer> {
  return serve({
    hostname: "127.0.0.1",
    port: 0,
    protocols: (offered) => offered.find((p) => SUPPORTED.includes(p)) ?? "",
    onConnection(socket) {
      socket.binaryType = "uint8array";
      socket.onmessage = (event) => socket.send(event.data);
    },
  });
}

/**
 * Runs `body` against a fresh echo server with a raw client that has
 * completed the handshake; closes everything afterwards.
 */
export async function echoCase(
  body: (peer: RawPeer, server: WebSocketServer) => Promise<void>,
  options: Parameters<typeof rawConnect>[1] = {},
): Promise<void> {
  const server = await startEchoServer();
  let peer: RawPeer | undefined;
  try {
    peer = await rawConnect(server.port, options);
    await body(peer, server);
  } finally {
    peer?.destroy();
    if (peer) await peer.closed;
    await server.close();
  }
}

/** A client frame (masked with a fresh random key, as a client must). */
export function masked(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  options: { fin?: boolean; rsv?: number } = {},
): Uint8Array {
  return frameBytes(opcode, payload, {
    ...options,
    mask: new Uint8Array(randomBytes(4)),
  });
}

/** A server frame (unmasked). */
export function plain(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  options: { fin?: boolean; rsv?: number; mask?: Uint8Array } = {},
): Uint8Array {
  return frameBytes(opcode, payload, options);
}

/** Builds a frame from its parts, RFC 6455 §5.2, without wskit's encoder. */
function frameBytes(
  opcode: number,
  payload: Uint8Array | string,
  options: { fin?: boolean; rsv?: number; mask?: Uint8Array },
): Uint8Array {
  const data = typeof payload === "string" ? utf8.encode(payload) : payload;
  const len = data.length;
  const extra = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const mask = options.mask;
  const headSize = 2 + extra + (mask ? 4 : 0);
  const out = new Uint8Array(headSize + len);
  out[0] = ((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) |
    opcode;
  const maskBit = mask ? 0x80 : 0;
  if (extra === 0) out[1] = maskBit | len;
  else if (extra === 2) {
    out[1] = maskBit | 126;
    out[2] = len >>> 8;
    out[3] = len & 0xff;
  } else {
    out[1] = maskBit | 127;
    const high = Math.floor(len / 2 ** 32);
    new DataView(out.buffer).setUint32(2, high);
    new DataView(out.buffer).setUint32(6, len >>> 0);
  }
  if (mask) {
    out.set(mask, 2 + extra);
    for (let i = 0; i < len; i++) {
      out[headSize + i] = data[i] ^ mask[i & 3];
    }
  } else {
    out.set(data, headSize);
  }
  return out;
}

/**
 * A data message as masked frames of at most `size` payload bytes each, in
 * one buffer (a fresh masking key per frame).
 */
export function fragmented(
  opcode: number,
  payload: Uint8Array,
  size: number,
): Uint8Array {
  const count = Math.max(1, Math.ceil(payload.length / size));
  const keys = new Uint8Array(randomBytes(4 * count));
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    const piece = payload.subarray(i * size, (i + 1) * size);
    const frame = frameBytes(i === 0 ? opcode : OP.cont, piece, {
      fin: i === count - 1,
      mask: keys.subarray(4 * i, 4 * i + 4),
    });
    parts.push(frame);
    total += frame.length;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A close frame payload: code, then the UTF-8 (or raw) reason. */
export function closePayload(
  code: number,
  reason: string | Uint8Array = "",
): Uint8Array {
  const r = typeof reason === "string" ? utf8.encode(reason) : reason;
  const out = new Uint8Array(2 + r.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}

/**
 * Waits for `expected.length` frames and checks their summaries, then
 * closes cleanly: the server must echo close 1000 and end the connection,
 * with nothing else in between. (As in Autobahn, the close goes out only
 * after the echoes came back.)
 */
export async function expectThenClose(
  peer: RawPeer,
  expected: string[],
): Promise<void> {
  while (peer.frames.length < expected.length) {
    if ((await peer.next()) === null) break;
  }
  assert.deepEqual(peer.summary(), expected);
  await peer.write(masked(OP.close, closePayload(1000)));
  assert.deepEqual(await peer.untilEnd(), [...expected, close(1000)]);
}

// ---- the other direction: a raw server for wskit's WebSocket client ----

/** What a wskit client reported, in order. */
export interface ClientLog {
  /** `open`, `message:<summary>`, `error:<code>`, `close:<code>:<clean>`. */
  events: string[];
  /** Messages as received (strings or bytes). */
  messages: (string | Uint8Array)[];
  /** The close event, once it came. */
  closeEvent?: WebSocketCloseEvent;
  /** Resolves with the close event. */
  closed: Promise<WebSocketCloseEvent>;
  /** Resolves with the next message (in order). */
  nextMessage(): Promise<string | Uint8Array>;
}

/** Records a client's events. */
export function record(ws: WebSocket): ClientLog {
  const log: ClientLog = {
    events: [],
    messages: [],
    closed: undefined as unknown as Promise<WebSocketCloseEvent>,
    nextMessage: () => Promise.resolve(""),
  };
  const waiting: ((data: string | Uint8Array) => void)[] = [];
  let read = 0;
  ws.addEventListener("open", () => log.events.push("open"));
  ws.addEventListener("message", (e) => {
    const data = (e as MessageEvent).data as string | Uint8Array;
    log.messages.push(data);
    log.events.push(
      typeof data === "string"
        ? `message:${text(data)}`
        : `message:${binary(data)}`,
    );
    const wake = waiting.shift();
    if (wake) wake(log.messages[read++]);
  });
  ws.addEventListener("error", (e) => {
    log.events.push(`error:${(e as WebSocketErrorEvent).code}`);
  });
  log.closed = new Promise((resolve) => {
    ws.addEventListener("close", (e) => {
      const event = e as WebSocketCloseEvent;
      log.closeEvent = event;
      log.events.push(`close:${event.code}:${event.wasClean}`);
      resolve(event);
    });
  });
  log.nextMessage = () => {
    if (read < log.messages.length) {
      return Promise.resolve(log.messages[read++]);
    }
    return withTimeout(
      new Promise((resolve) => waiting.push(resolve)),
      "a message",
      () => log.events,
    );
  };
  return log;
}

/** Rejects if `promise` does not settle in time. */
export function withTimeout<T>(
  promise: Promise<T>,
  what: string,
  context: () => unknown = () => "",
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `timed out waiting for ${what}: ${JSON.stringify(context())}`,
          ),
        ),
      WAIT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A raw TCP server that accepts WebSocket handshakes by hand. */
export interface RawServer {
  port: number;
  /** The next accepted (handshaken) connection. */
  accept(): Promise<RawPeer>;
  close(): Promise<void>;
}

/**
 * Starts a raw server. Each connection's request head is read by hand and
 * answered with 101 and the accept computed by `computeAccept` (mod.ts).
 */
export async function startRawServer(
  options: {
    protocol?: string;
    /** Bytes to send in the same write as the 101 response. */
    early?: Uint8Array;
  } = {},
): Promise<RawServer> {
  const ready: RawPeer[] = [];
  const waiting: ((peer: RawPeer) => void)[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer(async (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    let head: string;
    let rest: Uint8Array;
    try {
      ({ head, rest } = await readHead(socket));
    } catch {
      socket.destroy();
      return;
    }
    const key = /\r\nsec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? "";
    const response = [
      "HTTP/1.1 101 Switching Protocols",
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Accept: ${computeAccept(key)}`,
    ];
    if (options.protocol) {
      response.push(`Sec-WebSocket-Protocol: ${options.protocol}`);
    }
    const bytes101 = new TextEncoder().encode(
      response.join("\r\n") + "\r\n\r\n",
    );
    const early = options.early ?? new Uint8Array(0);
    const first = new Uint8Array(bytes101.length + early.length);
    first.set(bytes101);
    first.set(early, bytes101.length);
    socket.write(first);
    const peer = new RawPeer(socket, true, rest);
    peer.head = head;
    const wake = waiting.shift();
    if (wake) wake(peer);
    else ready.push(peer);
  });
  await new Promise<void>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve())
  );
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    accept() {
      const peer = ready.shift();
      if (peer) return Promise.resolve(peer);
      return withTimeout(
        new Promise<RawPeer>((resolve) => waiting.push(resolve)),
        "a connection",
      );
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Runs `body` with wskit's `WebSocket` client (binaryType "uint8array")
 * connected to a raw server; closes everything afterwards.
 */
export async function clientCase(
  body: (peer: RawPeer, ws: WebSocket, log: ClientLog) => Promise<void>,
  options: {
    closeTimeout?: number;
    early?: Uint8Array;
    maxMessageSize?: number;
  } = {},
): Promise<void> {
  const server = await startRawServer({ early: options.early });
  let ws: WebSocket | undefined;
  let log: ClientLog | undefined;
  try {
    ws = new WebSocket(`ws://127.0.0.1:${server.port}/`, undefined, {
      closeTimeout: options.closeTimeout ?? 5000,
      maxMessageSize: options.maxMessageSize,
    });
    ws.binaryType = "uint8array";
    log = record(ws);
    const peer = await server.accept();
    await withTimeout(
      new Promise<void>((resolve) =>
        log!.events.includes("open")
          ? resolve()
          : ws!.addEventListener("open", () => resolve(), { once: true })
      ),
      "the client to open",
      () => log!.events,
    );
    await body(peer, ws, log);
  } finally {
    if (ws && !log?.closeEvent) {
      ws.terminate();
      await log!.closed;
    }
    await server.close();
  }
}

/** Ends the raw server side and waits for the client's close event. */
export async function finish(
  peer: RawPeer,
  log: ClientLog,
): Promise<WebSocketCloseEvent> {
  peer.end();
  return await withTimeout(log.closed, "the close event", () => log.events);
}

// ---- the example itself, in a child process ----

const g = globalThis as { Deno?: unknown; Bun?: unknown };

/** Starts examples/echo_server.ts with the current runtime on a free port. */
export async function startExampleEcho(): Promise<
  { port: number; stop(): Promise<void> }
> {
  const args = g.Deno
    ? ["run", "-A", "examples/echo_server.ts"]
    : g.Bun
    ? ["run", "examples/echo_server.ts"]
    : ["--import", "tsx", "examples/echo_server.ts"];
  const child: ChildProcess = spawn(process.execPath, args, {
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the example printed no URL: ${output}`)),
      30000,
    );
    const look = (d: Uint8Array) => {
      output += new TextDecoder().decode(d);
      const match = /ws:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on("data", look);
    child.stderr!.on("data", look);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the example exited with ${code}: ${output}`));
    });
  });
  return {
    port,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill();
      await exited;
    },
  };
}
