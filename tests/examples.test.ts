/**
 * The examples, started as separate processes with the same runtime that runs
 * this test (node --import tsx, deno run -A, bun run), and exercised over
 * loopback.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startExample } from "./process_helpers.ts";
import { closed, connect, inbox } from "./net_helpers.ts";

test("examples: echo_server echoes text and binary, picks the client's first supported subprotocol, echoes close", async () => {
  const server = await startExample("examples/echo_server.ts");
  try {
    const ws = await connect(server.url, ["nonsense", "mqtt", "chat"]);
    assert.equal(ws.protocol, "mqtt");
    const box = inbox(ws);
    ws.send("text stays text");
    ws.send(new Uint8Array([0, 255, 1]));
    assert.equal(await box.next(), "text stays text");
    assert.deepEqual(await box.next(), new Uint8Array([0, 255, 1]));
    const done = closed(ws);
    ws.close(4123, "same back");
    const event = await done;
    assert.deepEqual([event.code, event.reason, event.wasClean], [
      4123,
      "same back",
      true,
    ]);
    const plain = await connect(server.url);
    assert.equal(plain.protocol, "");
    plain.close();
    await closed(plain);
  } finally {
    await server.stop();
  }
});
