/**
 * Autobahn TestSuite section 5 (fragmentation) against wskit's echo server,
 * from a raw TCP client.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  binary,
  close,
  echoCase,
  expectThenClose,
  masked,
  OP,
  pattern,
  pong,
  type RawPeer,
  text,
} from "./harness.ts";

type Writer = (peer: RawPeer, frames: Uint8Array[]) => Promise<void>;

/** The three ways Autobahn sends a case: all at once, frame-wise, octet-wise. */
const WAYS: [string, Writer][] = [
  ["in one write", async (peer, frames) => {
    await peer.write(join(frames));
  }],
  ["frame by frame", (peer, frames) => peer.writeFrames(...frames)],
  [
    "in 1-byte chunks",
    (peer, frames) => peer.write(join(frames), { chunk: 1, pace: true }),
  ],
];

function join(frames: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let offset = 0;
  for (const f of frames) {
    out.set(f, offset);
    offset += f.length;
  }
  return out;
}

test("conformance 5.1: a ping in 2 fragments fails the connection with 1002", () =>
  echoCase(async (peer) => {
    await peer.write(join([
      masked(OP.ping, "fragment1", { fin: false }),
      masked(OP.cont, "fragment2"),
    ]));
    assert.deepEqual(await peer.untilEnd(), [close(1002)]);
  }));

test("conformance 5.2: a pong in 2 fragments fails the connection with 1002", () =>
  echoCase(async (peer) => {
    await peer.write(join([
      masked(OP.pong, "fragment1", { fin: false }),
      masked(OP.cont, "fragment2"),
    ]));
    assert.deepEqual(await peer.untilEnd(), [close(1002)]);
  }));

WAYS.forEach(([how, write], i) => {
  test(`conformance 5.${3 + i}: a text message in 2 fragments, ${how}, is echoed whole`, () =>
    echoCase(async (peer) => {
      await write(peer, [
        masked(OP.text, "fragment1", { fin: false }),
        masked(OP.cont, "fragment2"),
      ]);
      await expectThenClose(peer, [text("fragment1fragment2")]);
    }));

  test(`conformance 5.${6 + i}: a ping between 2 text fragments, ${how}: pong, then the message`, () =>
    echoCase(async (peer) => {
      await write(peer, [
        masked(OP.text, "fragment1", { fin: false }),
        masked(OP.ping, "pongme!"),
        masked(OP.cont, "fragment2"),
      ]);
      await expectThenClose(peer, [
        pong("pongme!"),
        text("fragment1fragment2"),
      ]);
    }));

  test(`conformance 5.${9 + i}: a final continuation with nothing to continue, then text, ${how}: 1002`, () =>
    echoCase(async (peer) => {
      await write(peer, [
        masked(OP.cont, "non-continuation payload"),
        masked(OP.text, "Hello, world!"),
      ]);
      assert.deepEqual(await peer.untilEnd(), [close(1002)]);
    }));

  test(`conformance 5.${12 + i}: a non-final continuation with nothing to continue, then text, ${how}: 1002`, () =>
    echoCase(async (peer) => {
      await write(peer, [
        masked(OP.cont, "non-continuation payload", { fin: false }),
        masked(OP.text, "Hello, world!"),
      ]);
      assert.deepEqual(await peer.untilEnd(), [close(1002)]);
    }));
});

test("conformance 5.15: text in 2 fragments, then a non-final continuation with nothing to continue: echo, then 1002", () =>
  echoCase(async (peer) => {
    await peer.write(join([
      masked(OP.text, "fragment1", { fin: false }),
      masked(OP.cont, "fragment2"),
    ]));
    await peer.frame();
    await peer.write(join([
      masked(OP.cont, "fragment3", { fin: false }),
      masked(OP.text, "fragment4"),
    ]));
    assert.deepEqual(await peer.untilEnd(), [
      text("fragment1fragment2"),
      close(1002),
    ]);
  }));

test("conformance 5.16: (continuation without start, text in 2 fragments) twice: 1002 at once", () =>
  echoCase(async (peer) => {
    const round = [
      masked(OP.cont, "fragment1", { fin: false }),
      masked(OP.text, "fragment2", { fin: false }),
      masked(OP.cont, "fragment3"),
    ];
    await peer.write(join([...round, ...round]));
    assert.deepEqual(await peer.untilEnd(), [close(1002)]);
  }));

test("conformance 5.17: (final continuation without start, text in 2 fragments) twice: 1002 at once", () =>
  echoCase(async (peer) => {
    const round = [
      masked(OP.cont, "fragment1"),
      masked(OP.text, "fragment2", { fin: false }),
      masked(OP.cont, "fragment3"),
    ];
    await peer.write(join([...round, ...round]));
    assert.deepEqual(await peer.untilEnd(), [close(1002)]);
  }));

test("conformance 5.18: text in 2 fragments where the second is a new text frame: 1002", () =>
  echoCase(async (peer) => {
    await peer.write(join([
      masked(OP.text, "fragment1", { fin: false }),
      masked(OP.text, "fragment2"),
    ]));
    assert.deepEqual(await peer.untilEnd(), [close(1002)]);
  }));

test("conformance 5.19: text in 5 fragments with pings after the 2nd and 4th, frame by frame: pongs as they come, then the message", () =>
  echoCase(async (peer) => {
    await peer.writeFrames(
      masked(OP.text, "fragment1", { fin: false }),
      masked(OP.cont, "fragment2", { fin: false }),
      masked(OP.ping, "pongme 1!"),
    );
    assert.deepEqual(await peer.frame().then(() => peer.summary()), [
      pong("pongme 1!"),
    ]);
    await peer.writeFrames(
      masked(OP.cont, "fragment3", { fin: false }),
      masked(OP.cont, "fragment4", { fin: false }),
      masked(OP.ping, "pongme 2!"),
    );
    await peer.frame();
    await peer.writeFrames(masked(OP.cont, "fragment5"));
    await expectThenClose(peer, [
      pong("pongme 1!"),
      pong("pongme 2!"),
      text("fragment1fragment2fragment3fragment4fragment5"),
    ]);
  }));

test("conformance 5.20: text in 5 fragments with pings after the 2nd and 4th, in one write", () =>
  echoCase(async (peer) => {
    await peer.write(join([
      masked(OP.text, "fragment1", { fin: false }),
      masked(OP.cont, "fragment2", { fin: false }),
      masked(OP.ping, "pongme 1!"),
      masked(OP.cont, "fragment3", { fin: false }),
      masked(OP.cont, "fragment4", { fin: false }),
      masked(OP.ping, "pongme 2!"),
      masked(OP.cont, "fragment5"),
    ]));
    await expectThenClose(peer, [
      pong("pongme 1!"),
      pong("pongme 2!"),
      text("fragment1fragment2fragment3fragment4fragment5"),
    ]);
  }));

test("conformance 5 (extra): a text message in 1-byte fragments is echoed whole", () =>
  echoCase(async (peer) => {
    const message = "Hello-µ@ßöäüàá-UTF-8!! κόσμε 😀";
    const b = new TextEncoder().encode(message);
    const frames = Array.from(
      b,
      (byte, i) =>
        masked(i === 0 ? OP.text : OP.cont, new Uint8Array([byte]), {
          fin: i === b.length - 1,
        }),
    );
    await peer.write(join(frames));
    await expectThenClose(peer, [text(message)]);
  }));

test("conformance 5 (extra): a text message in 1-byte fragments, written in 1-byte chunks", () =>
  echoCase(async (peer) => {
    const message = "κόσμε µ@ß 😀";
    const b = new TextEncoder().encode(message);
    const frames = Array.from(
      b,
      (byte, i) =>
        masked(i === 0 ? OP.text : OP.cont, new Uint8Array([byte]), {
          fin: i === b.length - 1,
        }),
    );
    await peer.write(join(frames), { chunk: 1, pace: true });
    await expectThenClose(peer, [text(message)]);
  }));

test("conformance 5 (extra): a binary message in 3 fragments with a pong and a ping between", () =>
  echoCase(async (peer) => {
    const data = pattern(300);
    await peer.write(join([
      masked(OP.binary, data.subarray(0, 100), { fin: false }),
      masked(OP.pong, "ignored"),
      masked(OP.cont, data.subarray(100, 200), { fin: false }),
      masked(OP.ping, "p"),
      masked(OP.cont, data.subarray(200)),
    ]));
    await expectThenClose(peer, [pong("p"), binary(data)]);
    assert.deepEqual(peer.frames[1].payload, data);
    assert.equal(peer.frames[1].opcode, OP.binary);
  }));
