/**
 * A first message pipelined after the upgrade request (in the same write),
 * and the Host / URL of a server socket, over loopback on every runtime; plus
 * the core rule behind the first: only the head counts toward
 * `maxHeaderBytes`, however the bytes are split into reads.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Connection, type ConnectionEvent } from "../core/connection.ts";
import { attach } from "../node.ts";
import type { WebSocket } from "../mod.ts";
import type { UpgradeRequest } from "../core/handshake.ts";
import { clientFrame, concat } from "./helpers.ts";
import { startEcho } from "./net_helpers.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const PAYLOAD = "a".repeat(20 * 1024);

function requestHead(target = "/chat", host = "127.0.0.1"): Uint8Array {
  return new TextEncoder().encode(
    `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\n` +
      "Sec-WebSocket-Version: 13\r\n\r\n",
  );
}

/** The upgrade request followed by one masked 20 KiB text frame. */
const HEAD = requestHead();
const PIPELINED = concat(HEAD, clientFrame(1, PAYLOAD));

/** Offsets at which to split `PIPELINED` into two writes/reads. */
const SPLITS: [string, number][] = [
  ["inside the request line", 5],
  ["inside the head", HEAD.length - 20],
  ["inside the final CRLF", HEAD.length - 1],
  ["right after the head", HEAD.length],
  ["inside the frame header", HEAD.length + 3],
  ["inside the payload", HEAD.length + 4 + 8 + 100],
  ["16 KiB into the payload", HEAD.length + 8 + 16384],
];

describe("pipelined first message: core", () => {
  /** Feeds `chunks`, accepting as soon as the request is reported. */
  function run(
    chunks: Uint8Array[],
  ): { events: ConnectionEvent[]; out: string } {
    const conn = Connection.server();
    const events: ConnectionEvent[] = [];
    let out = "";
    for (const chunk of chunks) {
      const got = conn.receive(chunk.slice());
      events.push(...got);
      if (got.some((e) => e.type === "request")) events.push(...conn.accept());
      for (const c of conn.takeOutput()) out += new TextDecoder().decode(c);
    }
    return { events, out };
  }

  function messages(events: ConnectionEvent[]): unknown[] {
    return events.filter((e) => e.type === "message").map((e) =>
      (e as { data: unknown }).data
    );
  }

  test("head + 20 KiB frame in one chunk: 101 and the message", () => {
    const { events, out } = run([PIPELINED]);
    assert.match(out, /^HTTP\/1\.1 101 /);
    assert.deepEqual(messages(events), [PAYLOAD]);
  });

  test("the same bytes split anywhere: 101 and the message", () => {
    for (const [where, at] of SPLITS) {
      const { events, out } = run([
        PIPELINED.subarray(0, at),
        PIPELINED.subarray(at),
      ]);
      assert.match(out, /^HTTP\/1\.1 101 /, where);
      assert.deepEqual(messages(events), [PAYLOAD], where);
    }
    // And in three pieces of odd sizes.
    const { events } = run([
      PIPELINED.subarray(0, 100),
      PIPELINED.subarray(100, 9000),
      PIPELINED.subarray(9000),
    ]);
    assert.deepEqual(messages(events), [PAYLOAD]);
  });

  test("bytes arriving in later chunks before the decision stay bounded", () => {
    const conn = Connection.server();
    // The chunk that ends the head carries 20 KiB of frames: kept.
    const first = conn.receive(PIPELINED.slice());
    assert.equal(first.filter((e) => e.type === "request").length, 1);
    assert.equal(conn.takeOutput().length, 0);
    // No decision yet; more than maxHeaderBytes more arrive: refused.
    conn.receive(clientFrame(1, PAYLOAD));
    const out = conn.takeOutput().map((c) => new TextDecoder().decode(c))
      .join("");
    assert.match(out, /^HTTP\/1\.1 400 /);
    assert.match(out, /too much data before the handshake ended/);
  });
});

/** What a raw TCP peer received, until `done(received)` or the socket closes. */
async function exchange(
  port: number,
  parts: Uint8Array[],
  done: (received: Buffer) => boolean,
): Promise<Buffer> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  let received = Buffer.alloc(0);
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => finish = resolve);
  const timer = setTimeout(finish, 10_000);
  socket.on("data", (chunk) => {
    received = Buffer.concat([received, chunk]);
    if (done(received)) finish();
  });
  socket.on("close", finish);
  try {
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    for (let i = 0; i < parts.length; i++) {
      // A pause between writes, so each part reaches the server on its own.
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 30));
      socket.write(parts[i]);
    }
    await finished;
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
  return received;
}

/** The server's text frame carrying PAYLOAD (unmasked, 16-bit length). */
const ECHO = Buffer.concat([
  Buffer.from([0x81, 126, PAYLOAD.length >> 8, PAYLOAD.length & 255]),
  Buffer.from(PAYLOAD),
]);

/** Whether `received` is a 101 head followed by the echo of PAYLOAD. */
function hasEcho(received: Buffer): boolean {
  const end = received.indexOf("\r\n\r\n");
  return end !== -1 && received.length >= end + 4 + ECHO.length;
}

function assertEchoed(received: Buffer, where: string): void {
  const end = received.indexOf("\r\n\r\n");
  const head = received.subarray(0, Math.max(end, 0)).toString("latin1");
  assert.match(head, /^HTTP\/1\.1 101 /, `${where}: ${head.slice(0, 40)}`);
  assert.deepEqual(
    received.subarray(end + 4, end + 4 + ECHO.length),
    ECHO,
    where,
  );
}

describe("pipelined first message: loopback", () => {
  test("head + 20 KiB frame in one write: 101 and the echo", async () => {
    const server = await startEcho();
    try {
      const received = await exchange(server.port, [PIPELINED], hasEcho);
      assertEchoed(received, "one write");
    } finally {
      await server.close();
    }
  });

  test("the same bytes in two writes, split anywhere: 101 and the echo", async () => {
    const server = await startEcho();
    try {
      for (const [where, at] of SPLITS) {
        const received = await exchange(
          server.port,
          [PIPELINED.subarray(0, at), PIPELINED.subarray(at)],
          hasEcho,
        );
        assertEchoed(received, where);
      }
    } finally {
      await server.close();
    }
  });

  test("with an async authenticate, what arrives while it decides waits: 101 and the echo", async () => {
    let decided = 0;
    const server = await startEcho({
      authenticate: async () => {
        // Long enough for the rest of the frame to arrive meanwhile.
        await new Promise((resolve) => setTimeout(resolve, 150));
        decided++;
        return true;
      },
    });
    try {
      const at = HEAD.length + 100; // the head and 100 bytes, then 20 KiB
      const received = await exchange(
        server.port,
        [PIPELINED.subarray(0, at), PIPELINED.subarray(at)],
        hasEcho,
      );
      assertEchoed(received, "after an async decision");
      assert.equal(decided, 1);
    } finally {
      await server.close();
    }
  });

  test("through attach() on a node:http server (the 'upgrade' head)", async () => {
    const http = createServer((_req, res) => res.end("plain"));
    const wss = attach(http, {
      path: "/chat",
      onConnection(socket) {
        socket.onmessage = (e) => socket.send(e.data);
      },
    });
    // Another upgrade listener (for other paths): attach() must still
    // recognize its own path, also in an absolute-form target.
    http.on("upgrade", () => {});
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    const port = (http.address() as AddressInfo).port;
    try {
      assertEchoed(await exchange(port, [PIPELINED], hasEcho), "one write");
      // An absolute-form target is routed by its path too (RFC 9112 §3.2.2).
      const absolute = concat(
        requestHead("http://127.0.0.1/chat"),
        clientFrame(1, PAYLOAD),
      );
      assertEchoed(
        await exchange(port, [absolute], hasEcho),
        "absolute-form target",
      );
      const at = HEAD.length + 4 + 8 + 100;
      assertEchoed(
        await exchange(
          port,
          [PIPELINED.subarray(0, at), PIPELINED.subarray(at)],
          hasEcho,
        ),
        "split in the payload",
      );
    } finally {
      await wss.close();
      await new Promise((r) => http.close(r));
    }
  });
});

describe("server socket url and Host: loopback", () => {
  /** An echo server that records each accepted socket's url and request. */
  async function recording(): Promise<{
    server: Awaited<ReturnType<typeof startEcho>>;
    seen: { url: string; request: UpgradeRequest }[];
  }> {
    const seen: { url: string; request: UpgradeRequest }[] = [];
    const server = await startEcho({
      path: "/chat",
      onConnection(socket: WebSocket, request) {
        seen.push({ url: socket.url, request });
      },
    });
    return { server, seen };
  }

  const isHead = (received: Buffer): boolean =>
    received.indexOf("\r\n\r\n") !== -1;

  test("an invalid Host gets 400 and no socket is made", async () => {
    const { server, seen } = await recording();
    try {
      for (
        const host of ["evil.example/../admin?", "a b", "h:1:2", "h:99999"]
      ) {
        const received = await exchange(
          server.port,
          [requestHead("/chat", host)],
          isHead,
        );
        assert.match(received.toString("latin1"), /^HTTP\/1\.1 400 /, host);
      }
      assert.deepEqual(seen, []);
    } finally {
      await server.close();
    }
  });

  test("socket.url is a URL built from the Host and the target", async () => {
    const { server, seen } = await recording();
    try {
      const url = (host: string, target: string) =>
        exchange(server.port, [requestHead(target, host)], isHead);
      const local = `127.0.0.1:${server.port}`;
      assert.match(
        (await url(local, "/chat?room=1")).toString("latin1"),
        /^HTTP\/1\.1 101 /,
      );
      // A URL, not a string join: host lower-cased, default port dropped.
      await url("Example.COM:80", "/chat");
      await url("[::1]:8080", "/chat");
      assert.deepEqual(seen.map((s) => s.url), [
        `ws://${local}/chat?room=1`,
        "ws://example.com/chat",
        "ws://[::1]:8080/chat",
      ]);
    } finally {
      await server.close();
    }
  });

  test("an absolute-form target: path check and url use the target", async () => {
    const { server, seen } = await recording();
    try {
      const received = await exchange(
        server.port,
        [requestHead("http://good.example/chat?x=1", "127.0.0.1")],
        isHead,
      );
      assert.match(received.toString("latin1"), /^HTTP\/1\.1 101 /);
      assert.equal(seen.length, 1);
      assert.equal(seen[0].url, "ws://good.example/chat?x=1");
      assert.equal(seen[0].request.path, "/chat");
      assert.equal(seen[0].request.host, "good.example");
      // The path check sees the target's path too.
      const other = await exchange(
        server.port,
        [requestHead("http://good.example/admin", "127.0.0.1")],
        isHead,
      );
      assert.match(other.toString("latin1"), /^HTTP\/1\.1 404 /);
      assert.equal(seen.length, 1);
    } finally {
      await server.close();
    }
  });
});
