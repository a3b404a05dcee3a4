/**
 * The Deno adapter's read loop, driven by a scripted fake `Deno.Conn` (the
 * adapter takes any object of that shape, so this runs on every runtime).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type DenoConn, DenoTransport } from "../adapters/deno.ts";

/** A conn whose reads return `sizes` in turn (then wait), recording each buffer's length. */
function scriptedConn(sizes: number[]): {
  conn: DenoConn;
  lengths: number[];
  done: Promise<void>;
} {
  const lengths: number[] = [];
  let next = 0;
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const conn: DenoConn = {
    read(p) {
      lengths.push(p.length);
      if (next === sizes.length) {
        finished();
        return new Promise(() => {}); // idle: the read stays pending
      }
      const n = sizes[next];
      p.fill(next % 251, 0, n); // each read's bytes say which read it was
      next++;
      return Promise.resolve(n);
    },
    write: (p) => Promise.resolve(p.length),
    close() {},
    closeWrite: () => Promise.resolve(),
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
  };
  return { conn, lengths, done };
}

test("deno transport: the read buffer starts small, grows while reads fill it and shrinks while they don't", async () => {
  const K = 1024;
  const sizes = [
    500, // a handshake: fits, the buffer is reused
    2 * K, // fills 2 KiB: grow
    4 * K,
    8 * K,
    16 * K,
    32 * K,
    64 * K, // fills 64 KiB: stays at the maximum
    64 * K,
    100, // small reads: halve each time, down to 2 KiB
    100,
    100,
    100,
    100,
    100,
    100,
  ];
  const { conn, lengths, done } = scriptedConn(sizes);
  const transport = new DenoTransport(conn);
  const chunks: Uint8Array[] = [];
  transport.handlers = {
    data: (chunk) => chunks.push(chunk),
    drain() {},
    close() {},
  };
  await done;
  assert.deepEqual(lengths.map((n) => n / K), [
    2,
    2,
    4,
    8,
    16,
    32,
    64,
    64,
    64,
    32,
    16,
    8,
    4,
    2,
    2,
    2, // the pending read of an idle connection holds only 2 KiB
  ]);
  // Every chunk kept its own bytes: no buffer was reused under a chunk.
  assert.deepEqual(chunks.map((c) => c.length), sizes);
  chunks.forEach((chunk, i) => {
    assert.ok(chunk.every((b) => b === i % 251), `chunk ${i} was overwritten`);
  });
  transport.destroy();
});

/** A conn that records writes and shutdowns; reads wait until `eof()`. */
function idleConn(maxWrite = Infinity): {
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

test("deno transport: small writes merge, partial writes are retried, and drain follows", async () => {
  const { conn, writes } = idleConn(1000);
  const transport = new DenoTransport(conn);
  let drains = 0;
  transport.handlers = { data() {}, drain: () => drains++, close() {} };
  assert.equal(transport.remoteAddress, "10.0.0.1");
  transport.write(new Uint8Array(100));
  transport.write(new Uint8Array(200));
  assert.equal(transport.write(new Uint8Array(70 * 1024)), false);
  assert.equal(transport.buffered, 300 + 70 * 1024);
  while (transport.buffered > 0) await new Promise((r) => setTimeout(r, 0));
  assert.equal(writes[0], 300, "the two small chunks went out as one write");
  assert.equal(writes.reduce((a, b) => a + b, 0), 300 + 70 * 1024);
  assert.ok(writes.length > 2, "the large chunk took several partial writes");
  assert.equal(drains, 1);
  transport.destroy();
});

test("deno transport: after end(), it half-closes and waits for the peer's EOF (no timer of its own), or for destroy()", async () => {
  const ended = idleConn();
  const first = new DenoTransport(ended.conn);
  let firstCloses = 0;
  first.handlers = { data() {}, drain() {}, close: () => void firstCloses++ };
  first.write(new Uint8Array([1, 2, 3]));
  first.end();
  assert.equal(
    first.write(new Uint8Array([4])),
    false,
    "no writes after end()",
  );
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(ended.writes, [3]);
  assert.deepEqual(ended.events, ["closeWrite"]);
  ended.eof();
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(ended.events, ["closeWrite", "close"]);
  assert.equal(firstCloses, 1);

  const silent = idleConn();
  const second = new DenoTransport(silent.conn);
  let closes = 0;
  let closeError: Error | undefined = new Error("not reported");
  second.handlers = {
    data() {},
    drain() {},
    close(error) {
      closes++;
      closeError = error;
    },
  };
  second.end();
  // Longer than the 2 s the transport used to wait before closing itself.
  await new Promise((r) => setTimeout(r, 2200));
  assert.deepEqual(silent.events, ["closeWrite"]);
  assert.equal(closes, 0, "still open: the owner decides when to stop");
  second.destroy();
  second.destroy();
  assert.equal(closes, 0, "close is reported on a later microtask");
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(silent.events, ["closeWrite", "close"]);
  assert.deepEqual([closes, closeError], [1, undefined]);
});
