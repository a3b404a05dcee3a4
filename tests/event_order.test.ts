/**
 * Event order over real loopback: `readyState` changes as events are
 * dispatched (as in browsers), and replies made while handling what arrived
 * together with a close or a protocol violation go out before our close
 * frame.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { Buffer } from "node:buffer";
import { computeAccept, WebSocket } from "../mod.ts";
import type {
  WebSocketCloseEvent,
  WebSocketErrorEvent,
} from "../socket/websocket.ts";
import { clientFrame, closeBody, concat, serverFrame } from "./helpers.ts";
import { closed, once, startEcho } from "./net_helpers.ts";

/** One decoded frame: its opcode and (unmasked) payload. */
interface Frame {
  opcode: number;
  payload: Buffer;
}

/** Decodes the whole frames at the start of `bytes` (masked or not). */
function frames(bytes: Buffer): Frame[] {
  const out: Frame[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    const opcode = bytes[at] & 0x0f;
    const masked = (bytes[at + 1] & 0x80) !== 0;
    let length = bytes[at + 1] & 0x7f;
    let head = 2;
    if (length === 126) {
      if (at + 4 > bytes.length) break;
      length = bytes.readUInt16BE(at + 2);
      head = 4;
    } else if (length === 127) {
      throw new Error("test frames are small");
    }
    const keyAt = at + head;
    if (masked) head += 4;
    if (at + head + length > bytes.length) break;
    const payload = Buffer.from(bytes.subarray(at + head, at + head + length));
    if (masked) {
      for (let i = 0; i < payload.length; i++) {
        payload[i] ^= bytes[keyAt + (i & 3)];
      }
    }
    out.push({ opcode, payload });
    at += head + length;
  }
  return out;
}

/** `opcode:text` for data frames, `close:code` for a close frame. */
function describeFrames(list: Frame[]): string[] {
  return list.map((f) =>
    f.opcode === 8
      ? `close:${f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005}`
      : `${f.opcode}:${f.payload.toString()}`
  );
}

const UPGRADE_REQUEST = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
  "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Sec-WebSocket-Version: 13\r\n\r\n";

/**
 * A raw client: connects to `port`, writes `first` (the upgrade request and
 * whatever is pipelined with it), then `after` once the 101 arrived (if
 * given), and resolves with the frames the server sent until it closed TCP.
 */
function rawClient(
  port: number,
  first: Uint8Array,
  after?: Uint8Array,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(first));
    let got = Buffer.alloc(0);
    let sentAfter = false;
    socket.on("data", (d: Buffer) => {
      got = Buffer.concat([got, d]);
      const end = got.indexOf("\r\n\r\n");
      if (after !== undefined && !sentAfter && end >= 0) {
        sentAfter = true;
        socket.write(after);
      }
    });
    socket.on("error", reject);
    socket.on("close", () => {
      const text = got.toString("latin1");
      assert.match(text, /^HTTP\/1\.1 101 /);
      const end = got.indexOf("\r\n\r\n") + 4;
      resolve(describeFrames(frames(got.subarray(end))));
    });
  });
}

describe("event order", () => {
  test("client: 101 + text + binary + close in one packet: readyState in event order, the reply precedes our close echo", async () => {
    let received = Buffer.alloc(0);
    let serverSide: net.Socket | undefined;
    const raw = net.createServer((socket) => {
      serverSide = socket;
      socket.on("error", () => {});
      socket.once("data", (head) => {
        const key = /Sec-WebSocket-Key: (.*)\r\n/i.exec(String(head))![1];
        socket.write(concat(
          new TextEncoder().encode(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
              "Connection: Upgrade\r\n" +
              `Sec-WebSocket-Accept: ${computeAccept(key)}\r\n\r\n`,
          ),
          serverFrame(1, "text"),
          serverFrame(2, new Uint8Array([1, 2, 3])),
          serverFrame(8, closeBody(1000, "bye")),
        ));
        socket.on("data", (d: Buffer) => {
          received = Buffer.concat([received, d]);
          // Our close echo is here: close TCP, as a server does.
          if (frames(received).some((f) => f.opcode === 8)) socket.end();
        });
      });
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    try {
      const port = (raw.address() as net.AddressInfo).port;
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      ws.binaryType = "arraybuffer";
      const seen: string[] = [];
      ws.onopen = () => seen.push(`open:${ws.readyState}`);
      ws.onmessage = (e) => {
        const kind = typeof e.data === "string" ? "text" : "binary";
        seen.push(`${kind}:${ws.readyState}`);
        if (kind === "text") {
          assert.equal(ws.send("reply"), true);
        }
      };
      ws.onclose = () => seen.push(`close:${ws.readyState}`);
      const event = await closed(ws);
      assert.deepEqual(seen, ["open:1", "text:1", "binary:1", "close:3"]);
      assert.equal(event.code, 1000);
      assert.equal(event.wasClean, true);
      assert.deepEqual(describeFrames(frames(received)), [
        "1:reply",
        "close:1000",
      ]);
    } finally {
      serverSide?.destroy();
      await new Promise((r) => raw.close(r));
    }
  });

  test("server: frames pipelined with the upgrade request, then a close: the echo comes back before the close echo", async () => {
    const server = await startEcho();
    try {
      const got = await rawClient(
        server.port,
        concat(
          new TextEncoder().encode(UPGRADE_REQUEST),
          clientFrame(1, "early"),
          clientFrame(8, closeBody(1000)),
        ),
      );
      assert.deepEqual(got, ["1:early", "close:1000"]);
    } finally {
      await server.close();
    }
  });

  const violations: [string, Uint8Array, number][] = [
    ["RSV1 set", clientFrame(1, "x", { rsv: 4 }), 1002],
    ["a reserved opcode", clientFrame(3, "x"), 1002],
    ["invalid UTF-8", clientFrame(1, new Uint8Array([0xc3, 0x28])), 1007],
  ];
  for (const [what, bad, code] of violations) {
    test(`server: a valid message then ${what} in one chunk: the echo is written before the ${code} close`, async () => {
      const errors: number[] = [];
      const server = await startEcho({
        onConnection(socket) {
          socket.addEventListener("error", (e) => {
            errors.push((e as WebSocketErrorEvent).code);
          });
        },
      });
      try {
        const got = await rawClient(
          server.port,
          new TextEncoder().encode(UPGRADE_REQUEST),
          concat(clientFrame(1, "valid"), bad),
        );
        assert.deepEqual(got, ["1:valid", `close:${code}`]);
        assert.deepEqual(errors, [code]);
      } finally {
        await server.close();
      }
    });
  }

  test("close() while CONNECTING: readyState CLOSING at once, then error and close (1006) from a later task", async () => {
    const sockets: net.Socket[] = [];
    const raw = net.createServer((s) => {
      sockets.push(s);
      s.on("error", () => {});
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    try {
      const port = (raw.address() as net.AddressInfo).port;
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      const seen: string[] = [];
      ws.addEventListener("error", () => seen.push(`error:${ws.readyState}`));
      ws.addEventListener("close", (e) => {
        seen.push(`close:${(e as WebSocketCloseEvent).code}:${ws.readyState}`);
      });
      assert.equal(ws.readyState, WebSocket.CONNECTING);
      ws.close();
      assert.deepEqual(seen, [], "no event inside close()");
      assert.equal(ws.readyState, WebSocket.CLOSING);
      await once(ws, "close");
      assert.deepEqual(seen, ["error:2", "close:1006:3"]);
      // Nothing more comes (each event exactly once).
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(seen, ["error:2", "close:1006:3"]);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => raw.close(r));
    }
  });
});
