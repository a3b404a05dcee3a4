/** Sharing a port with a node:http app through attach() (works on all three runtimes' node:http). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { attach } from "../node.ts";
import { closed, connect, inbox } from "./net_helpers.ts";

test("node http: WebSockets and plain HTTP share one port", async () => {
  const http = createServer((_req, res) => res.end("plain http"));
  const wss = attach(http, {
    path: "/ws",
    protocols: ["p1"],
    onConnection(socket) {
      socket.onmessage = (e) => socket.send(e.data);
    },
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  const port = (http.address() as AddressInfo).port;
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await res.text(), "plain http");
    const ws = await connect(`ws://127.0.0.1:${port}/ws`, ["p1"]);
    assert.equal(ws.protocol, "p1");
    const box = inbox(ws);
    ws.send("shared port");
    assert.equal(await box.next(), "shared port");
    const done = closed(ws);
    ws.close(1000);
    assert.equal((await done).wasClean, true);
  } finally {
    await wss.close();
    await new Promise((r) => http.close(r));
  }
});
