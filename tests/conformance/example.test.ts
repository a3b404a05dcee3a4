/**
 * A few conformance cases against examples/echo_server.ts itself, started
 * in a child process by the runtime running this test, to show that the
 * in-process echo server the other cases use behaves as the example does.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  close,
  closeInfo,
  closePayload,
  expectThenClose,
  hex,
  masked,
  OP,
  pattern,
  pong,
  rawConnect,
  type RawPeer,
  startExampleEcho,
  text,
} from "./harness.ts";

test("conformance smoke (examples/echo_server.ts): 1.1.2, 1.2.6, 2.2, 3.1, 5.6, 6.3.1, 7.3.4, 7.9.1, 9.1.3", async () => {
  const example = await startExampleEcho();
  const peers: RawPeer[] = [];
  const open = async (protocols?: string[]) => {
    const peer = await rawConnect(example.port, { protocols });
    peers.push(peer);
    return peer;
  };
  try {
    // 1.1.2 and 1.2.6: text and binary echoed, with a subprotocol chosen.
    let peer = await open(["nonsense", "graphql-ws", "chat"]);
    assert.match(peer.head, /\r\nSec-WebSocket-Protocol: graphql-ws(\r\n|$)/i);
    await peer.write(masked(OP.text, pattern(125, true)));
    await peer.frame();
    await peer.write(masked(OP.binary, pattern(65535)));
    const echoed = await peer.frame();
    assert.deepEqual(echoed.payload, pattern(65535));
    assert.equal(echoed.opcode, OP.binary);
    // 2.2: ping answered with the same payload.
    await peer.write(masked(OP.ping, "Hello, world!"));
    await peer.frame();
    // 5.6: a ping between fragments.
    await peer.write(
      new Uint8Array([
        ...masked(OP.text, "fragment1", { fin: false }),
        ...masked(OP.ping, "pongme!"),
        ...masked(OP.cont, "fragment2"),
      ]),
    );
    await peer.frame();
    await peer.frame();
    assert.deepEqual(peer.summary().slice(2), [
      pong("Hello, world!"),
      pong("pongme!"),
      text("fragment1fragment2"),
    ]);
    await expectThenClose(peer, peer.summary());

    // 3.1: reserved bit.
    peer = await open();
    await peer.write(masked(OP.text, "Hello", { rsv: 1 }));
    assert.deepEqual(await peer.untilEnd(), [close(1002)]);

    // 6.3.1: invalid UTF-8.
    peer = await open();
    await peer.write(
      masked(
        OP.text,
        hex("ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64"),
      ),
    );
    assert.deepEqual(await peer.untilEnd(), [close(1007)]);

    // 7.3.4: close echoed with code and reason.
    peer = await open();
    await peer.write(masked(OP.close, closePayload(4123, "same back")));
    assert.deepEqual(await peer.untilEnd(), [close(4123)]);
    assert.deepEqual(closeInfo(peer.frames[0]), {
      code: 4123,
      reason: "same back",
    });

    // 7.9.1: invalid close code.
    peer = await open();
    await peer.write(masked(OP.close, closePayload(0)));
    assert.deepEqual(await peer.untilEnd(), [close(1002)]);

    // 9.1.3: a 1 MiB text message.
    peer = await open();
    const big = pattern(1024 * 1024, true);
    await peer.write(masked(OP.text, big));
    const frame = await peer.frame();
    assert.equal(frame.payload.length, big.length);
    assert.deepEqual(frame.payload, big);
    await expectThenClose(peer, [text(big)]);
  } finally {
    for (const peer of peers) peer.destroy();
    await Promise.all(peers.map((peer) => peer.closed));
    await example.stop();
  }
});
