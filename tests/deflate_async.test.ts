/**
 * Large permessage-deflate messages are inflated off the event loop: the
 * zlib codec's `inflateLater` gives exactly what the synchronous inflate
 * gives (fast-check over sizes, dictionaries, windows and limits), and over
 * loopback a bomb gets 1009 without stalling other clients, a big legit
 * message round-trips through the deferred path, and the order of messages
 * and close is kept.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { constants, deflateRawSync } from "node:zlib";
import fc from "fast-check";
import type { DecodeOutcome } from "../core/extension.ts";
import {
  type DeflateCodec,
  type InflateOptions,
  permessageDeflate,
} from "../core/permessage_deflate.ts";
import { zlibCodec } from "../adapters/deflate.ts";
import type { WebSocket } from "../mod.ts";
import { clientFrame, closeBody, concat } from "./helpers.ts";
import { connect, startServer, until, urlOf } from "./net_helpers.ts";
import { noise, random, text } from "./deflate_helpers.ts";

const SYNC = { finishFlush: constants.Z_SYNC_FLUSH };
const enc = new TextEncoder();
const RSV1 = 0x4;

/** Raw-deflates `data` without the sync-flush tail, as a peer sends it. */
function compressed(data: Uint8Array, level = 6): Uint8Array {
  const out = deflateRawSync(data, { ...SYNC, level });
  return out.subarray(0, out.length - 4);
}

/** The outcome `inflate` gives, in `inflateLater`'s terms. */
function syncOutcome(data: Uint8Array, options: InflateOptions): DecodeOutcome {
  try {
    return { output: zlibCodec.inflate(data, options) };
  } catch (error) {
    return { error };
  }
}

/** `inflateLater` as a promise (checking that it answers asynchronously). */
function laterOutcome(
  data: Uint8Array,
  options: InflateOptions,
): Promise<DecodeOutcome> {
  return new Promise((resolve) => {
    let sync = true;
    zlibCodec.inflateLater!(data, options, (outcome) => {
      assert.equal(sync, false, "done is called asynchronously");
      resolve(outcome);
    });
    sync = false;
  });
}

/** Compares two outcomes: same bytes, both over the limit, or both errors. */
function assertSame(later: DecodeOutcome, now: DecodeOutcome): void {
  if ("error" in now) {
    assert.ok("error" in later, "both fail");
    return;
  }
  assert.ok(
    "output" in later,
    `later failed: ${String((later as { error: unknown }).error)}`,
  );
  if (now.output === undefined) {
    assert.equal(later.output, undefined);
    return;
  }
  assert.ok(later.output !== undefined);
  assert.equal(later.output.constructor, now.output.constructor, "same type");
  assert.equal(later.output.length, now.output.length);
  assert.deepEqual(later.output, now.output);
}

/** A plain Uint8Array view, for comparing a Buffer's bytes. */
function bytes(data: Uint8Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

describe("zlibCodec.inflateLater matches inflate", () => {
  test("property: sizes, dictionaries, windows and limits", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 400_000 }),
        fc.integer({ min: 0, max: 32768 }),
        fc.integer({ min: 9, max: 15 }),
        fc.integer({ min: -2, max: 2 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 2 ** 31 }),
        async (size, dictSize, windowBits, limitDelta, compressible, seed) => {
          const dictionary = noise(dictSize, seed + 1);
          const data = compressible
            ? enc.encode(text(size, seed))
            : noise(size, seed);
          // Compress with the dictionary where zlib can (back-references
          // into it), else alone; either way inflate is primed with it.
          const deflated = zlibCodec.deflate(data, {
            windowBits,
            level: 6,
            dictionary: dictSize > 0 ? dictionary : undefined,
          });
          const options: InflateOptions = {
            windowBits: 15,
            dictionary: dictSize > 0
              ? dictionary.subarray(Math.max(0, dictSize - (1 << windowBits)))
              : undefined,
            maxOutput: Math.max(0, size + limitDelta),
          };
          const now = syncOutcome(deflated, options);
          const later = await laterOutcome(deflated, options);
          assertSame(later, now);
          if (limitDelta >= 0 && !("error" in now)) {
            assert.ok(now.output !== undefined);
            assert.deepEqual(bytes(now.output), data);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  test("outputs around and past one 1 MiB chunk (inflated again into one buffer)", async () => {
    const MiB = 1024 * 1024;
    for (const size of [MiB - 100, MiB, MiB + 1, 3 * MiB + 7]) {
      for (const dictSize of [0, 1000]) {
        const data = enc.encode(text(size, size + dictSize));
        const dictionary = dictSize > 0 ? noise(dictSize, 9) : undefined;
        const deflated = zlibCodec.deflate(data, {
          windowBits: 15,
          level: 1,
          dictionary,
        });
        for (const maxOutput of [size - 1, size, 64 * MiB]) {
          const options = { windowBits: 15, dictionary, maxOutput };
          const now = syncOutcome(deflated, options);
          const later = await laterOutcome(deflated, options);
          assertSame(later, now);
          if (maxOutput >= size) {
            assert.ok("output" in later && later.output !== undefined);
            assert.deepEqual(bytes(later.output), data);
          }
        }
      }
    }
  });

  test("corrupt data fails both ways, and a bomb stops at maxOutput both ways", async () => {
    const rnd = random(7);
    for (let i = 0; i < 20; i++) {
      const junk = new Uint8Array(64 + Math.floor(rnd() * 2000));
      for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(rnd() * 256);
      const options = { windowBits: 15, maxOutput: 1 << 20 };
      assertSame(
        await laterOutcome(junk, options),
        syncOutcome(junk, options),
      );
    }
    const bomb = deflateRawSync(new Uint8Array(8 << 20), SYNC);
    const options = { windowBits: 15, maxOutput: 1 << 20 };
    const later = await laterOutcome(bomb, options);
    assert.deepEqual(later, { output: undefined });
    assertSame(later, syncOutcome(bomb, options));
  });
});

// ---- over loopback ----

/** 64 MiB + 64 KiB of zeros, compressed: about 65 KB that inflate past the 64 MiB default limit. */
const BOMB = compressed(new Uint8Array(64 * 1024 * 1024 + 65536), 9);

/** A raw client that completes a handshake offering permessage-deflate. */
async function rawClient(
  port: number,
): Promise<{ socket: net.Socket; received: () => Uint8Array }> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  let buffer: Uint8Array = new Uint8Array(0);
  let head = "";
  await new Promise<void>((resolve, reject) => {
    socket.on("data", (d: Uint8Array) => {
      buffer = concat(buffer, d);
      if (head === "") {
        const text = new TextDecoder().decode(buffer);
        const end = text.indexOf("\r\n\r\n");
        if (end >= 0) {
          head = text.slice(0, end);
          buffer = buffer.subarray(end + 4);
          resolve();
        }
      }
    });
    socket.on("close", () => reject(new Error("closed during the handshake")));
    socket.write(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
    );
  });
  assert.match(head, /permessage-deflate/i);
  return { socket, received: () => buffer };
}

/** The close code in a server's close frame at `bytes[at]`, if one is there. */
function closeCodeAt(bytes: Uint8Array, at: number): number | undefined {
  if (bytes.length < at + 4 || bytes[at] !== 0x88) return undefined;
  return (bytes[at + 2] << 8) | bytes[at + 3];
}

/** Sends one ping on `ws` and resolves when its pong comes back. */
function pingPong(ws: WebSocket, data: string): Promise<void> {
  return new Promise((resolve) => {
    const onPong = (event: Event) => {
      const got = new TextDecoder().decode((event as MessageEvent).data);
      if (got !== data) return;
      ws.removeEventListener("pong", onPong);
      resolve();
    };
    ws.addEventListener("pong", onPong);
    ws.ping(data);
  });
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("deferred inflate over loopback", () => {
  test("a bomb gets 1009", async () => {
    const server = await startServer();
    try {
      const raw = await rawClient(server.port);
      raw.socket.write(clientFrame(0x2, BOMB, { rsv: RSV1 }));
      await until(
        () => closeCodeAt(raw.received(), 0) !== undefined,
        "a close",
      );
      assert.equal(closeCodeAt(raw.received(), 0), 1009);
      assert.match(
        new TextDecoder().decode(raw.received().subarray(4)),
        /exceeds 67108864 bytes once decompressed/,
      );
      raw.socket.destroy();
    } finally {
      await server.close();
    }
  });

  test("another client's ping is answered while a bomb is being inflated", async () => {
    const server = await startServer();
    try {
      const victim = await connect(urlOf(server));
      const attacker = await rawClient(server.port);
      // All of the bomb but its final (empty) frame, then a ping: its pong
      // says the server holds the whole compressed payload.
      attacker.socket.write(
        clientFrame(0x2, BOMB, { rsv: RSV1, fin: false }),
      );
      attacker.socket.write(clientFrame(0x9, "sync"));
      await until(() => attacker.received().length >= 6, "the attacker's pong");
      assert.equal(attacker.received()[0], 0x8a);
      const order: string[] = [];
      const base = attacker.received().length;
      attacker.socket.on("data", () => {
        const code = closeCodeAt(attacker.received(), base);
        if (code !== undefined && !order.includes("close")) {
          order.push(`close ${code}`);
        }
      });
      // The final frame: the server starts inflating 64 MiB.
      attacker.socket.write(clientFrame(0x0, new Uint8Array(0)));
      await delay(5);
      // Sent while the bomb is inflated (had that blocked the loop, this
      // would only run once the attacker's 1009 had gone out).
      await pingPong(victim, "victim");
      order.push("pong");
      await until(() => order.length === 2, "the attacker's close");
      assert.deepEqual(order, ["pong", "close 1009"]);
      assert.equal(victim.readyState, 1);
      attacker.socket.destroy();
      victim.close();
    } finally {
      await server.close();
    }
  });

  test("while clients send bombs in a loop, another client's pings all come back", async () => {
    const server = await startServer();
    let stop = false;
    let bombs = 0;
    const codes: number[] = [];
    /** Connects, sends a bomb, waits for the close; again until told to stop. */
    const attack = async () => {
      while (!stop) {
        const raw = await rawClient(server.port);
        raw.socket.write(clientFrame(0x2, BOMB, { rsv: RSV1 }));
        await until(
          () => closeCodeAt(raw.received(), 0) !== undefined,
          "a close",
          30_000,
        );
        codes.push(closeCodeAt(raw.received(), 0)!);
        bombs++;
        raw.socket.destroy();
      }
    };
    try {
      const victim = await connect(urlOf(server));
      const attackers = [attack(), attack()];
      await until(() => bombs >= 1, "the first bomb's 1009", 30_000);
      const start = Date.now();
      const during = bombs;
      for (let i = 0; i < 20; i++) {
        await pingPong(victim, `p${i}`);
        assert.equal(victim.readyState, 1);
      }
      const elapsed = Date.now() - start;
      stop = true;
      await Promise.all(attackers);
      assert.ok(bombs > during, "bombs kept coming during the pings");
      assert.ok(codes.every((c) => c === 1009), `codes ${codes}`);
      // Liveness, not a benchmark: 20 round trips in well under the time
      // the bombs took to inflate.
      assert.ok(elapsed < 5000, `20 pings took ${elapsed} ms`);
      victim.close();
    } finally {
      stop = true;
      await server.close();
    }
  });

  test("a big compressed message round-trips through the deferred path both ways", async () => {
    let deferred = 0;
    const counting: DeflateCodec = {
      deflate: zlibCodec.deflate,
      inflate: zlibCodec.inflate,
      minWindowBits: zlibCodec.minWindowBits,
      contextTakeover: zlibCodec.contextTakeover,
      inflateLater(data, options, done) {
        deferred++;
        zlibCodec.inflateLater!(data, options, done);
      },
    };
    const server = await startServer({
      extensionNegotiators: [permessageDeflate({ codec: counting })],
      onConnection(socket) {
        socket.binaryType = "uint8array";
        socket.onmessage = (event) => socket.send(event.data);
      },
    });
    try {
      const ws = await connect(urlOf(server), undefined, {
        extensionNegotiators: [permessageDeflate({ codec: counting })],
      });
      assert.match(ws.extensions, /permessage-deflate/);
      const big = text(2 * 1024 * 1024, 3);
      const binary = concat(noise(300_000, 4), new Uint8Array(1 << 20));
      const got: unknown[] = [];
      ws.onmessage = (event) => got.push(event.data);
      ws.send(big);
      ws.send("small");
      ws.send(binary);
      await until(() => got.length === 3, "three echoes", 30_000);
      assert.equal(got[0], big);
      assert.equal(got[1], "small");
      assert.ok(got[2] instanceof Uint8Array);
      assert.deepEqual(bytes(got[2]), binary);
      // Each large message was inflated off the loop by the server and by the client.
      assert.equal(deferred, 4);
      ws.close();
    } finally {
      await server.close();
    }
  });

  test("a peer that sends a large message and a close, then hangs up, gets the message delivered first", async () => {
    const seen: string[] = [];
    let done = false;
    const server = await startServer({
      onConnection(socket) {
        socket.onmessage = (event) =>
          seen.push(`message ${(event.data as string).length}`);
        socket.onclose = (event) => {
          seen.push(`close ${event.code}`);
          done = true;
        };
      },
    });
    try {
      const raw = await rawClient(server.port);
      const message = text(4 * 1024 * 1024, 5);
      raw.socket.end(
        concat(
          clientFrame(0x1, compressed(enc.encode(message)), { rsv: RSV1 }),
          clientFrame(0x8, closeBody(1000, "bye")),
        ),
      );
      await until(() => done, "the server-side close");
      assert.deepEqual(seen, [`message ${message.length}`, "close 1000"]);
      raw.socket.destroy();
    } finally {
      await server.close();
    }
  });
});
