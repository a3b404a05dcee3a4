/** Rate limits over loopback for control frames: pings and pongs count. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { clientFrame } from "./helpers.ts";
import {
  closed,
  connect,
  rawClient,
  startEcho,
  until,
  urlOf,
} from "./net_helpers.ts";

/** Counts the server frames with `opcode` in `bytes` (unmasked, short payloads) and the last close code. */
function frames(bytes: Buffer): { pongs: number; close: number } {
  let pongs = 0;
  let close = 0;
  let i = 0;
  while (i + 2 <= bytes.length) {
    const opcode = bytes[i] & 0x0f;
    let length = bytes[i + 1] & 0x7f;
    let at = i + 2;
    if (length === 126) {
      length = bytes.readUInt16BE(at);
      at += 2;
    }
    if (opcode === 0xa) pongs++;
    if (opcode === 0x8 && length >= 2) close = bytes.readUInt16BE(at);
    i = at + length;
  }
  return { pongs, close };
}

test("limits_control: 1000 pings under a ping limit close with 1008, with far fewer pongs", async () => {
  const server = await startEcho({
    limits: { rateLimit: { messages: 10, pings: 50, windowMs: 60_000 } },
  });
  try {
    const raw = await rawClient(server.port);
    const ping = clientFrame(9, new Uint8Array(125));
    // Ten batches of 100 pings, each sent once the previous one is answered
    // (or the connection is gone).
    for (let batch = 0; batch < 10 && !raw.socket.destroyed; batch++) {
      const before = raw.received().length;
      raw.socket.write(Buffer.concat(Array.from({ length: 100 }, () => ping)));
      await until(
        () => raw.received().length > before || raw.socket.readableEnded,
        "an answer",
      );
      if (frames(raw.received()).close !== 0) break;
    }
    await until(() => frames(raw.received()).close !== 0, "a close frame");
    const seen = frames(raw.received());
    assert.equal(seen.close, 1008);
    assert.ok(seen.pongs < 300, `far fewer than 1000 pongs (${seen.pongs})`);
    raw.socket.destroy();
  } finally {
    await server.close();
  }
});

test("limits_control: ping payloads count toward the byte rate", async () => {
  const server = await startEcho({
    limits: { rateLimit: { bytes: 1000, windowMs: 60_000 } },
  });
  try {
    const raw = await rawClient(server.port);
    const ping = clientFrame(9, new Uint8Array(125));
    raw.socket.write(Buffer.concat(Array.from({ length: 10 }, () => ping)));
    await until(() => frames(raw.received()).close !== 0, "a close frame");
    assert.equal(frames(raw.received()).close, 1008);
    raw.socket.destroy();
  } finally {
    await server.close();
  }
});

test("limits_control: pongs from the peer count toward the byte rate", async () => {
  const server = await startEcho({
    limits: { rateLimit: { bytes: 1000, windowMs: 60_000 } },
  });
  try {
    const raw = await rawClient(server.port);
    const pong = clientFrame(10, new Uint8Array(125));
    raw.socket.write(Buffer.concat(Array.from({ length: 10 }, () => pong)));
    await until(() => frames(raw.received()).close !== 0, "a close frame");
    assert.equal(frames(raw.received()).close, 1008);
    raw.socket.destroy();
  } finally {
    await server.close();
  }
});

test("limits_control: pings under the limits are answered and the connection stays open", async () => {
  const server = await startEcho({
    limits: { rateLimit: { pings: 50, bytes: 100_000, windowMs: 60_000 } },
  });
  try {
    const ws = await connect(urlOf(server));
    const done = closed(ws);
    const raw = await rawClient(server.port);
    const ping = clientFrame(9, new Uint8Array(10));
    raw.socket.write(Buffer.concat(Array.from({ length: 20 }, () => ping)));
    await until(() => frames(raw.received()).pongs === 20, "20 pongs");
    assert.equal(frames(raw.received()).close, 0);
    raw.socket.destroy();
    ws.close();
    await done;
  } finally {
    await server.close();
  }
});

test("limits_control: a server's default ping limit ends a ping flood with 1008", async () => {
  let serverClose: number | undefined;
  const server = await startEcho({
    closeTimeout: 300,
    onConnection(socket) {
      socket.addEventListener("close", (e) => serverClose = e.code);
    },
  });
  try {
    const raw = await rawClient(server.port);
    const ping = clientFrame(9, new Uint8Array(125));
    const burst = Buffer.concat(Array.from({ length: 500 }, () => ping));
    // 500 pings at once: over the default 100 per second. (The peer reads,
    // so that it sees the close frame before the server drops the
    // transport, but it never answers the close.)
    raw.socket.write(burst);
    await until(() => frames(raw.received()).close !== 0, "a close frame");
    // A failed connection is not a clean close on the server's side, and
    // its close timeout drops the transport although we never answer.
    await until(() => serverClose !== undefined, "the server's close");
    assert.equal(serverClose, 1006);
    const seen = frames(raw.received());
    assert.equal(seen.close, 1008);
    assert.ok(
      seen.pongs <= 101,
      `at most the allowed pings answered (${seen.pongs})`,
    );
    raw.socket.destroy();
  } finally {
    await server.close();
  }
});

test("limits_control: a rateLimit of your own replaces the server's default ping limit", async () => {
  const server = await startEcho({ limits: { rateLimit: { bytes: 1 << 20 } } });
  try {
    const raw = await rawClient(server.port);
    const ping = clientFrame(9, new Uint8Array(0));
    raw.socket.write(Buffer.concat(Array.from({ length: 300 }, () => ping)));
    raw.socket.write(clientFrame(1, "still open"));
    await until(
      () => raw.received().includes(Buffer.from("still open")),
      "the echo after 300 pings",
    );
    assert.equal(frames(raw.received()).close, 0);
    assert.ok(frames(raw.received()).pongs > 0);
    raw.socket.destroy();
  } finally {
    await server.close();
  }
});
