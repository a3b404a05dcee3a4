/** wss: over the current runtime's TLS, with a certificate made at test time. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocket } from "../mod.ts";
import type { WebSocketErrorEvent } from "../socket/websocket.ts";
import { closed, connect, inbox, once, startEcho } from "./net_helpers.ts";

/** A self-signed certificate for localhost and 127.0.0.1. */
function makeCertificate(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "wskit-tls-"));
  try {
    execFileSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-days",
      "1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ], { stdio: "ignore" });
    return {
      cert: readFileSync(join(dir, "cert.pem"), "utf8"),
      key: readFileSync(join(dir, "key.pem"), "utf8"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const tls = makeCertificate();

test("tls: wss round-trip with a trusted CA", async () => {
  const server = await startEcho({ tls });
  try {
    const ws = await connect(`wss://localhost:${server.port}/secure`, [], {
      tls: { ca: tls.cert },
    });
    const box = inbox(ws);
    ws.send("over tls");
    ws.send(new Uint8Array(300_000).fill(1));
    assert.equal(await box.next(), "over tls");
    assert.equal((await box.next() as Uint8Array).length, 300_000);
    const done = closed(ws);
    ws.close(1000);
    assert.equal((await done).wasClean, true);
  } finally {
    await server.close();
  }
});

test("tls: an untrusted certificate fails the connection with 1006", async () => {
  const server = await startEcho({ tls });
  try {
    const ws = new WebSocket(`wss://localhost:${server.port}/`);
    const error = once<WebSocketErrorEvent>(ws, "error");
    const event = await closed(ws);
    assert.equal(event.code, 1006);
    assert.ok((await error).message.length > 0);
  } finally {
    await server.close();
  }
});
