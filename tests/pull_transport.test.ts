/**
 * The pull-transport base (adapters/pull.ts) through its two subclasses:
 * `StreamTransport` over a real in-memory stream pair and `DenoTransport`
 * over a scripted `Deno.Conn` (both run on every runtime). After `end()` a
 * pull transport has no timer of its own: it waits for the peer's EOF or
 * for its owner's `destroy()`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type DenoConn, DenoTransport } from "../adapters/deno.ts";
import { memoryPipe, streamTransport } from "../adapters/streams.ts";
import type { Transport } from "../adapters/transport.ts";
import { until } from "./net_helpers.ts";

/** Longer than the 2 s the transports used to wait before closing themselves. */
const PAST_OLD_TIMEOUT_MS = 2200;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counts what a transport reports. */
function watch(transport: Transport) {
  const state = { drains: 0, closes: 0, error: undefined as Error | undefined };
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  transport.handlers = {
    data() {},
    drain: () => void state.drains++,
    close(error) {
      state.closes++;
      state.error = error;
      resolveClosed();
    },
  };
  return { state, closed };
}

/** A conn that records writes and shutdowns; its first read ends at `eof()`. */
function scriptedConn(maxWrite = Infinity): {
  conn: DenoConn;
  writes: number[];
  events: string[];
  eof: () => void;
} {
  const writes: number[] = [];
  const events: string[] = [];
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  let reads = 0;
  const conn: DenoConn = {
    read: () => reads++ === 0 ? ended.then(() => null) : new Promise(() => {}),
    write(p) {
      const n = Math.min(p.length, maxWrite);
      writes.push(n);
      return Promise.resolve(n);
    },
    close: () => void events.push("close"),
    closeWrite() {
      events.push("closeWrite");
      return Promise.resolve();
    },
    remoteAddr: { transport: "tcp", hostname: "10.0.0.1", port: 1 },
  };
  return { conn, writes, events, eof: end };
}

test("pull transport: after end(), a stream transport and a Deno transport whose peers never end stay open until destroy(), then report close once", async () => {
  // A real stream pair whose peer reads everything but never ends its side.
  const [a, b] = memoryPipe();
  const stream = streamTransport(a);
  const streamSide = watch(stream);
  let received = "";
  let peerSawEnd = false;
  (async () => {
    for await (
      const chunk of b.readable as unknown as AsyncIterable<Uint8Array>
    ) {
      received += new TextDecoder().decode(chunk);
    }
    peerSawEnd = true;
  })();
  stream.write(new TextEncoder().encode("bye"));
  stream.end();
  // A Deno connection whose peer never sends EOF.
  const silent = scriptedConn();
  const deno = new DenoTransport(silent.conn);
  const denoSide = watch(deno);
  deno.end();

  await until(() => peerSawEnd, "the writable closed towards the peer");
  assert.equal(received, "bye");
  await sleep(PAST_OLD_TIMEOUT_MS);
  assert.deepEqual(silent.events, ["closeWrite"]);
  assert.equal(streamSide.state.closes, 0, "still open: its owner decides");
  assert.equal(denoSide.state.closes, 0, "still open: its owner decides");

  for (const transport of [stream, deno]) {
    transport.destroy();
    transport.destroy();
  }
  assert.equal(denoSide.state.closes, 0, "close comes on a later microtask");
  await Promise.all([streamSide.closed, denoSide.closed]);
  await sleep(0);
  assert.deepEqual(silent.events, ["closeWrite", "close"]);
  for (const side of [streamSide, denoSide]) {
    assert.deepEqual([side.state.closes, side.state.error], [1, undefined]);
  }
});

test("pull transport: after end(), the peer's EOF finishes a Deno transport: flush, half-close, close", async () => {
  const ended = scriptedConn();
  const transport = new DenoTransport(ended.conn);
  const side = watch(transport);
  transport.write(new Uint8Array([1, 2, 3]));
  transport.end();
  assert.equal(transport.write(new Uint8Array([4])), false, "none after end()");
  await sleep(10);
  assert.deepEqual(ended.writes, [3]);
  assert.deepEqual(ended.events, ["closeWrite"]);
  ended.eof();
  await side.closed;
  assert.deepEqual(ended.events, ["closeWrite", "close"]);
  assert.deepEqual([side.state.closes, side.state.error], [1, undefined]);
});

test("pull transport: with endTimeout, a stream transport whose peer never ends destroys itself that long after end()", async () => {
  const [a, b] = memoryPipe();
  const transport = streamTransport(a, { endTimeout: 30 });
  const side = watch(transport);
  b.readable.pipeTo(new WritableStream()).catch(() => {});
  const start = Date.now();
  transport.end();
  await side.closed;
  assert.ok(Date.now() - start >= 25, "not before the timeout");
  assert.deepEqual([side.state.closes, side.state.error], [1, undefined]);
});

test("pull transport: small writes merge, partial writes are retried with buffered falling per part, and drain follows", async () => {
  const { conn, writes } = scriptedConn(1000);
  const transport = new DenoTransport(conn);
  const side = watch(transport);
  assert.equal(transport.remoteAddress, "10.0.0.1");
  transport.write(new Uint8Array(100));
  transport.write(new Uint8Array(200));
  assert.equal(transport.write(new Uint8Array(70 * 1024)), false);
  assert.equal(transport.buffered, 300 + 70 * 1024);
  const seen = new Set<number>();
  for (let i = 0; i < 10000 && transport.buffered > 0; i++) {
    seen.add(transport.buffered);
    await Promise.resolve(); // one microtask: see each part taken
  }
  assert.equal(writes[0], 300, "the two small chunks went out as one write");
  assert.equal(writes.reduce((a, b) => a + b, 0), 300 + 70 * 1024);
  assert.ok(writes.length > 2, "the large chunk took several partial writes");
  assert.ok(seen.size > 2, "buffered fell part by part");
  assert.equal(side.state.drains, 1);
  transport.destroy();
  await side.closed;
});
