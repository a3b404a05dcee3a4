/**
 * A message prepared once for many connections (core/prepared.ts): the same
 * frame bytes on every server connection that can share them, compressed
 * once per kind of permessage-deflate connection, and decoded correctly by
 * every receiver, context takeover or not. No network.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PreparedMessage } from "../core/prepared.ts";
import { handshake, parseFrames, pmd, text } from "./deflate_helpers.ts";
import { messages, pump } from "./helpers.ts";

test("plain server connections queue the same frame bytes", () => {
  const a = handshake({});
  const b = handshake({});
  const big = new Uint8Array(100_000).fill(7);
  for (const data of ["hi", "héllo wörld", big]) {
    const message = new PreparedMessage(data);
    a.server.sendPrepared(message);
    b.server.sendPrepared(message);
    const fromA = messages(pump(a.server, a.client));
    const fromB = messages(pump(b.server, b.client));
    assert.deepEqual(fromA, [data]);
    assert.deepEqual(fromB, [data]);
  }
  // A large frame is queued by reference: both connections hold one buffer.
  const message = new PreparedMessage(big);
  a.server.sendPrepared(message);
  b.server.sendPrepared(message);
  const [chunkA] = a.server.takeOutput().slice(-1);
  const [chunkB] = b.server.takeOutput().slice(-1);
  assert.equal(chunkA, chunkB);
});

test("a client connection masks a prepared message itself", () => {
  const { client, server } = handshake({});
  client.sendPrepared(new PreparedMessage("from the client"));
  assert.deepEqual(messages(pump(client, server)), ["from the client"]);
});

test("permessage-deflate: compressed once, decoded by every peer, takeover or not", () => {
  const takeover = handshake({ client: [pmd()], server: [pmd()] });
  const fresh = handshake({
    client: [pmd()],
    server: [pmd({ serverNoContextTakeover: true })],
  });
  const payload = text(20_000, 3);
  for (let round = 0; round < 3; round++) {
    const message = new PreparedMessage(payload);
    takeover.server.sendPrepared(message);
    fresh.server.sendPrepared(message);
    // Interleave the connection's own sends: its history must stay in step.
    takeover.server.send(payload);
    const outA = takeover.server.takeOutput();
    const outB = fresh.server.takeOutput();
    assert.equal(parseFrames(outA)[0].rsv & 4, 4, "compressed");
    let events = [];
    for (const chunk of outA) {
      events.push(...takeover.client.receive(chunk.slice()));
    }
    assert.deepEqual(messages(events), [payload, payload]);
    events = [];
    for (const chunk of outB) {
      events.push(...fresh.client.receive(chunk.slice()));
    }
    assert.deepEqual(messages(events), [payload]);
  }
});

test("a prepared message is compressed once per kind of connection", () => {
  const one = handshake({ client: [pmd()], server: [pmd()] });
  const two = handshake({ client: [pmd()], server: [pmd()] });
  const message = new PreparedMessage(text(20_000, 9));
  assert.ok(message.frameFor([]) !== undefined); // no extension: plain frame
  one.server.sendPrepared(message);
  two.server.sendPrepared(message);
  const [x] = one.server.takeOutput().slice(-1);
  const [y] = two.server.takeOutput().slice(-1);
  assert.equal(x, y, "the same compressed frame bytes");
  assert.equal(parseFrames([x])[0].rsv & 4, 4, "compressed");
});

test("sendPrepared throws unless open", () => {
  const { server } = handshake({});
  server.close(1000, "");
  assert.throws(() => server.sendPrepared(new PreparedMessage("late")));
});
