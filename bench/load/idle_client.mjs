// The client side of the idle-connection benchmark (bench/load/idle.mjs):
// plain JavaScript on Node's `net`, run in a process of its own so that the
// server's memory is all the server's. It opens `--connections` WebSocket
// connections to 127.0.0.1:`--port`, `--batch` at a time (a batch is
// finished before the next starts, so the server's accept queue never holds
// more than a batch: no SYN flood). Each connection completes the opening
// handshake (the 101 and its Sec-WebSocket-Accept are checked), then sends
// one masked 16-byte binary message and waits for its echo, so the server
// has set the connection up completely. Then nothing more is sent; pings
// are answered with pongs.
//
// Prints `OPEN <count> <milliseconds>` once every connection has echoed,
// then `LOST <count>` whenever connections close that should not have (the
// server closed them or failed). Runs until killed (SIGTERM/SIGINT: the
// kernel closes the sockets); a connection that fails to open prints
// `ERROR <message>` on stderr and exits with status 1. A `LOST` line may
// come before `OPEN` too.
//
//   node bench/load/idle_client.mjs --port 8080 --connections 10000 --batch 250

import { createHash, randomBytes } from "node:crypto";
import * as net from "node:net";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    connections: { type: "string", default: "10000" },
    batch: { type: "string", default: "250" },
    timeout: { type: "string", default: "30000" },
  },
});
const PORT = Number(values.port);
const HOST = values.host;
const CONNECTIONS = Number(values.connections);
const BATCH = Number(values.batch);
const TIMEOUT = Number(values.timeout);
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const PAYLOAD_SIZE = 16;

/** A masked client frame: FIN + `opcode`, `payload` masked with a fresh key. */
function maskedFrame(opcode, payload) {
  const frame = Buffer.alloc(6 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length; // payloads here are under 126 bytes
  randomBytes(4).copy(frame, 2);
  for (let i = 0; i < payload.length; i++) {
    frame[6 + i] = payload[i] ^ frame[2 + (i & 3)];
  }
  return frame;
}

let lost = 0;
let lostReport;

/** Notes a connection that closed after its echo (reported in 100 ms). */
function onLost() {
  lost++;
  lostReport ??= setTimeout(() => {
    lostReport = undefined;
    console.log(`LOST ${lost}`);
  }, 100);
}

/**
 * Opens one connection; resolves with its socket once the echo of its
 * message came back. Bytes may arrive in any split: the response head and
 * frames are gathered until whole.
 */
function open(index) {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString("base64");
    const accept = createHash("sha1").update(key + GUID).digest("base64");
    const payload = randomBytes(PAYLOAD_SIZE);
    const socket = net.connect({ host: HOST, port: PORT });
    let pending = Buffer.alloc(0);
    let upgraded = false;
    let echoed = false;
    const timer = setTimeout(
      () => fail(new Error(`connection ${index}: no echo in ${TIMEOUT} ms`)),
      TIMEOUT,
    );

    function fail(error) {
      clearTimeout(timer);
      if (!echoed) reject(error);
      socket.destroy();
    }

    /** Consumes the whole frames in `pending`. */
    function frames() {
      while (pending.length >= 2) {
        const opcode = pending[0] & 0x0f;
        const b1 = pending[1];
        let length = b1 & 0x7f;
        let p = 2;
        if (length === 126) {
          if (pending.length < 4) return;
          length = pending.readUInt16BE(2);
          p = 4;
        } else if (length === 127) {
          if (pending.length < 10) return;
          length = Number(pending.readBigUInt64BE(2));
          p = 10;
        }
        const key = (b1 & 0x80) !== 0 ? p : -1; // servers do not mask; still
        if (key >= 0) p += 4;
        if (pending.length < p + length) return;
        const data = Buffer.from(pending.subarray(p, p + length));
        if (key >= 0) {
          for (let i = 0; i < length; i++) data[i] ^= pending[key + (i & 3)];
        }
        pending = pending.subarray(p + length);
        frame(opcode, data);
      }
    }

    function frame(opcode, data) {
      if (opcode === 0x9) {
        socket.write(maskedFrame(0xa, data)); // pong
      } else if (opcode === 0x8) {
        fail(new Error(`connection ${index}: server sent close`));
      } else if (!echoed && opcode === 0x2) {
        if (!data.equals(payload)) {
          fail(new Error(`connection ${index}: wrong echo`));
          return;
        }
        echoed = true;
        clearTimeout(timer);
        resolve(socket);
      }
    }

    socket.on("data", (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (!upgraded) {
        const end = pending.indexOf("\r\n\r\n");
        if (end === -1) return;
        const head = pending.subarray(0, end).toString("latin1");
        if (!head.startsWith("HTTP/1.1 101")) {
          fail(new Error(`connection ${index}: ${head.split("\r\n")[0]}`));
          return;
        }
        const got = /\r\nsec-websocket-accept:[ \t]*([^\r\n]*)/i.exec(head);
        if (got === null || got[1].trim() !== accept) {
          fail(new Error(`connection ${index}: bad Sec-WebSocket-Accept`));
          return;
        }
        upgraded = true;
        pending = pending.subarray(end + 4);
        socket.write(maskedFrame(0x2, payload));
      }
      frames();
    });
    socket.on("error", (error) => fail(error));
    socket.on("close", () => {
      if (!echoed) fail(new Error(`connection ${index}: closed early`));
      else onLost();
    });
    socket.write(
      `GET /idle HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
        `Sec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
}

const sockets = [];
const t0 = performance.now();
try {
  for (let i = 0; i < CONNECTIONS; i += BATCH) {
    const batch = [];
    for (let j = i; j < Math.min(i + BATCH, CONNECTIONS); j++) {
      batch.push(open(j));
    }
    sockets.push(...await Promise.all(batch));
  }
} catch (error) {
  console.error(`ERROR ${error.message} (after ${sockets.length} open)`);
  process.exit(1);
}
console.log(`OPEN ${sockets.length} ${Math.round(performance.now() - t0)}`);
// Stay up (the open sockets keep the event loop alive) until killed.
