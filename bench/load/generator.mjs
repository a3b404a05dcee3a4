// The load generator for bench/load: plain JavaScript on Node's `net`, with
// every client frame encoded (and masked) once up front, so that the client
// side costs as little as possible per message. It opens `--connections`
// WebSocket connections to 127.0.0.1:`--port`, keeps `--inflight` messages
// outstanding on each (closed loop: every echo received is answered with a
// new message, in one write per socket per read), and measures for
// `--duration` ms after `--warmup` ms. Latency is the time from the write of
// a message to the read that completed its echo (echoes come back in order
// on a connection). Prints "start" when the measured window opens, then one
// JSON line with the results, then exits (closing every socket).
//
//   node bench/load/generator.mjs --port 8080 --connections 64 --inflight 16 \
//     --size 32 --text --warmup 1000 --duration 5000

import * as net from "node:net";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    connections: { type: "string", default: "64" },
    inflight: { type: "string", default: "16" },
    size: { type: "string", default: "32" },
    text: { type: "boolean", default: false },
    warmup: { type: "string", default: "1000" },
    duration: { type: "string", default: "5000" },
  },
});
const PORT = Number(values.port);
const HOST = values.host;
const CONNECTIONS = Number(values.connections);
const INFLIGHT = Number(values.inflight);
const SIZE = Number(values.size);
const TEXT = values.text;
const WARMUP = Number(values.warmup);
const DURATION = Number(values.duration);

// ---- one pre-encoded block of INFLIGHT masked frames ----
function encodeFrame(payload) {
  const length = payload.length;
  const extended = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const header = 2 + extended + 4;
  const frame = Buffer.alloc(header + length);
  frame[0] = 0x80 | (TEXT ? 0x1 : 0x2);
  frame[1] = 0x80 | (extended === 0 ? length : extended === 2 ? 126 : 127);
  if (extended === 2) frame.writeUInt16BE(length, 2);
  if (extended === 8) frame.writeBigUInt64BE(BigInt(length), 2);
  const key = [0x12, 0x34, 0x56, 0x78];
  for (let i = 0; i < 4; i++) frame[header - 4 + i] = key[i];
  for (let i = 0; i < length; i++) {
    frame[header + i] = payload[i] ^ key[i & 3];
  }
  return frame;
}
const payload = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i++) {
  payload[i] = TEXT ? 0x61 + (i % 26) : (i * 31) & 0xff;
}
const FRAME = encodeFrame(payload);
const BLOCK = Buffer.concat(new Array(INFLIGHT).fill(FRAME));
const FRAME_LENGTH = FRAME.length;

// ---- latency histogram: buckets 1% wide, in microseconds ----
const LOG_BASE = Math.log(1.01);
const BUCKETS = 2000; // up to ~4e8 µs
let histogram = new Float64Array(BUCKETS);
let lastMicros = -1;
let lastBucket = 0;
function record(micros) {
  // Messages sent in one write complete with the same latency: reuse the log.
  if (micros !== lastMicros) {
    lastMicros = micros;
    lastBucket = micros <= 1
      ? 0
      : Math.min(BUCKETS - 1, Math.ceil(Math.log(micros) / LOG_BASE));
  }
  histogram[lastBucket]++;
}
function percentile(p) {
  let total = 0;
  for (let i = 0; i < BUCKETS; i++) total += histogram[i];
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += histogram[i];
    if (seen >= total * p) return Math.pow(1.01, i);
  }
  return NaN;
}

// ---- counters ----
let measuring = false;
let stopped = false;
let messages = 0;
let payloadBytes = 0;
let errors = 0;

const HANDSHAKE = (key) =>
  `GET / HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\nUpgrade: websocket\r\n` +
  `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
  `Sec-WebSocket-Version: 13\r\n\r\n`;

/** One client connection: handshake, then the closed loop. */
function open(index) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port: PORT });
    socket.setNoDelay(true);
    let head = Buffer.alloc(0);
    let upgraded = false;
    // Send times of the outstanding messages, oldest first (a ring).
    const sent = new Float64Array(INFLIGHT);
    let first = 0;
    let outstanding = 0;
    // Frame parser state (server frames are unmasked).
    const headerBytes = Buffer.alloc(10);
    let headerHave = 0;
    let remaining = 0; // payload bytes left in the current frame
    let inPayload = false;
    let frameLength = 0;
    let control = false;

    const state = {
      socket,
      start() {
        const now = performance.now();
        for (let i = 0; i < INFLIGHT; i++) sent[i] = now;
        first = 0;
        outstanding = INFLIGHT;
        socket.write(BLOCK);
      },
    };

    function completed(now) {
      // One message echoed: record its latency, free its slot.
      if (measuring) {
        record((now - sent[first]) * 1000);
        messages++;
        payloadBytes += frameLength;
      }
      if (frameLength !== SIZE) errors++;
      first = (first + 1) % INFLIGHT;
      outstanding--;
    }

    function onFrames(chunk) {
      const now = performance.now();
      let done = 0;
      let i = 0;
      const n = chunk.length;
      while (i < n) {
        if (inPayload) {
          const take = Math.min(remaining, n - i);
          i += take;
          remaining -= take;
          if (remaining === 0) {
            inPayload = false;
            if (!control) {
              completed(now);
              done++;
            }
          }
          continue;
        }
        let opcode;
        if (headerHave === 0 && n - i >= 2 && (chunk[i + 1] & 0x7f) < 126) {
          // The common case: a short header, all in this chunk.
          opcode = chunk[i] & 0x0f;
          frameLength = chunk[i + 1] & 0x7f;
          i += 2;
        } else {
          // Gather a header (2, 4 or 10 bytes).
          headerBytes[headerHave++] = chunk[i++];
          if (headerHave < 2) continue;
          const len7 = headerBytes[1] & 0x7f;
          const need = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
          if (headerHave < need) continue;
          opcode = headerBytes[0] & 0x0f;
          frameLength = len7 === 126
            ? headerBytes.readUInt16BE(2)
            : len7 === 127
            ? Number(headerBytes.readBigUInt64BE(2))
            : len7;
          headerHave = 0;
        }
        // close/ping/pong: skip its payload; not a message
        control = opcode >= 0x8;
        if (opcode === 0x8) errors++;
        if (frameLength > 0) {
          remaining = frameLength;
          inPayload = true;
        } else if (!control) {
          completed(now);
          done++;
        }
      }
      if (done > 0 && !stopped) {
        // Answer every echo with a new message, all in one write.
        for (let k = 0; k < done; k++) {
          sent[(first + outstanding) % INFLIGHT] = now;
          outstanding++;
        }
        socket.write(
          done === INFLIGHT ? BLOCK : BLOCK.subarray(0, done * FRAME_LENGTH),
        );
      }
    }

    socket.on("data", (chunk) => {
      if (upgraded) return onFrames(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      if (!head.subarray(0, 12).toString("latin1").startsWith("HTTP/1.1 101")) {
        reject(
          new Error(
            `connection ${index}: ${head.subarray(0, end).toString("latin1")}`,
          ),
        );
        socket.destroy();
        return;
      }
      upgraded = true;
      resolve(state);
      if (end + 4 < head.length) onFrames(head.subarray(end + 4));
    });
    socket.on("error", (error) => {
      if (!upgraded) reject(error);
      else if (!stopped) errors++;
    });
    socket.on("close", () => {
      if (!stopped) errors++;
    });
    socket.write(
      HANDSHAKE(
        Buffer.from(`wskit-bench-${index}`.padEnd(16, "-")).toString("base64"),
      ),
    );
  });
}

const clients = [];
for (let i = 0; i < CONNECTIONS; i++) clients.push(await open(i));
for (const client of clients) client.start();

await new Promise((resolve) => setTimeout(resolve, WARMUP));
histogram = new Float64Array(BUCKETS);
measuring = true;
const cpuStart = process.cpuUsage();
const t0 = performance.now();
console.log("start");
await new Promise((resolve) => setTimeout(resolve, DURATION));
const seconds = (performance.now() - t0) / 1000;
measuring = false;
stopped = true;
const cpu = process.cpuUsage(cpuStart);
const result = {
  messagesPerSecond: messages / seconds,
  megabytesPerSecond: payloadBytes / seconds / 1e6,
  p50Micros: percentile(0.5),
  p99Micros: percentile(0.99),
  generatorCpu: (cpu.user + cpu.system) / 1e6 / seconds,
  messages,
  seconds,
  errors,
};
console.log(JSON.stringify(result));
for (const client of clients) client.socket.destroy();
process.exit(0);
