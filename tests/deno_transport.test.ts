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
