/**
 * Encoding frames: server frames (unmasked) and client frames (masked with a
 * fresh key each), for wskit's `encodeFrame` and `Connection.send` (plus
 * `takeOutput` once per message, and once per 16 messages as the
 * `WebSocket` class does when it answers a burst) against
 * `ws`'s `Sender.frame` and `Sender#send` (over a socket stub that accepts
 * writes and does nothing), with and without `bufferutil`.
 *
 *     node --import tsx bench/encode.bench.ts
 *     deno run -A bench/encode.bench.ts
 *     bun run bench/encode.bench.ts
 *
 * Payloads: binary 16 B, 125 B, 1 KiB, 64 KiB, 1 MiB, and a 32-character
 * ASCII string sent as text (encoded to UTF-8 inside the send). For bytes,
 * `ws` is told the data is read-only, as `ws.send(buffer)` does, so neither
 * side may mask the caller's buffer in place. The table shows the median
 * time per frame.
 *
 * Flags: `--quick`, `--filter TEXT`, `--rounds N`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { Connection } from "../core/connection.ts";
import { encodeFrame } from "../core/encoder.ts";
import {
  formatNs,
  jsonOutput,
  loadWs,
  printJson,
  ratio,
  runtimeLabel,
  runWsChild,
  Suite,
  wsOnly,
} from "./common.ts";

interface Case {
  name: string;
  data: Uint8Array | string;
  size: number;
}

const TEXT = "Hello, wskit! 32 bytes of ASCII.";
const CASES: Case[] = [
  ...([16, 125, 1024, 65536, 1 << 20] as const).map((size) => ({
    name: size >= 1 << 20
      ? "1 MiB binary"
      : size >= 1024
      ? `${size >> 10} KiB binary`
      : `${size} B binary`,
    data: new Uint8Array(size).map((_, i) => i * 7),
    size,
  })),
  { name: "32 B text (string)", data: TEXT, size: TEXT.length },
];
const BYTES_PER_CALL = 256 * 1024;

const ws = loadWs();
const suite = new Suite();
let sink = 0;

/** A stand-in for a `net.Socket`: takes writes, does nothing. */
const socketStub = {
  cork() {},
  uncork() {},
  write(chunk: { length: number }, cb?: () => void) {
    sink += chunk.length;
    cb?.();
    return true;
  },
};

const names: { c: Case; role: string }[] = [];
for (const c of CASES) {
  for (const role of ["server", "client"] as const) {
    names.push({ c, role });
    const mask = role === "client";
    const n = Math.max(1, Math.min(2000, Math.ceil(BYTES_PER_CALL / c.size)));
    const key = `${c.name}, ${role}`;
    const text = typeof c.data === "string";
    if (!wsOnly) {
      const bytes = text
        ? new TextEncoder().encode(c.data as string)
        : c.data as Uint8Array;
      suite.add(`${key} | wskit encodeFrame`, n, () => {
        for (let i = 0; i < n; i++) {
          sink += encodeFrame(text ? 1 : 2, bytes, { mask }).length;
        }
      });
      const conn = new Connection({ role });
      const data = c.data;
      suite.add(`${key} | wskit send`, n, () => {
        for (let i = 0; i < n; i++) {
          conn.send(data);
          sink += conn.takeOutput().length;
        }
      });
      // As the WebSocket class does: the replies of one turn, written once.
      const batch = Math.min(16, n);
      suite.add(`${key} | wskit send ×16`, n, () => {
        for (let i = 0; i < n; i += batch) {
          for (let j = 0; j < batch; j++) conn.send(data);
          sink += conn.takeOutput().length;
        }
      });
    }
    const wsData = text ? c.data : Buffer.from(c.data as Uint8Array);
    const options = {
      fin: true,
      opcode: text ? 1 : 2,
      mask,
      readOnly: !text,
      rsv1: false,
    };
    suite.add(`${key} | ${ws.label} frame`, n, () => {
      for (let i = 0; i < n; i++) {
        sink += ws.Sender.frame(wsData, options).length;
      }
    });
    const sender = new ws.Sender(socketStub);
    const sendOptions = { binary: !text, mask, fin: true, compress: false };
    suite.add(`${key} | ${ws.label} send`, n, () => {
      for (let i = 0; i < n; i++) sender.send(wsData, sendOptions);
    });
  }
}

const results = await suite.run();

if (jsonOutput) {
  printJson(results);
} else {
  const plain = ws.bufferutil ? runWsChild(import.meta.url) : new Map();
  const get = (key: string, what: string) =>
    results.get(`${key} | ${what}`) ?? plain.get(`${key} | ${what}`);
  console.log(`encode — ${runtimeLabel}; ns per frame, median`);
  console.table(
    names.filter(({ c, role }) =>
      results.has(`${c.name}, ${role} | wskit send`)
    )
      .map(({ c, role }) => {
        const key = `${c.name}, ${role}`;
        const send = get(key, "wskit send");
        const wsBuSend = ws.bufferutil
          ? get(key, "ws+bufferutil send")
          : undefined;
        const wsSend = get(key, "ws send");
        return {
          case: `${c.name}, ${role === "client" ? "masked" : "unmasked"}`,
          "wskit encodeFrame": formatNs(get(key, "wskit encodeFrame")),
          "wskit send": formatNs(send),
          "wskit send ×16": formatNs(get(key, "wskit send ×16")),
          "ws+bu frame": formatNs(
            ws.bufferutil ? get(key, "ws+bufferutil frame") : undefined,
          ),
          "ws+bu send": formatNs(wsBuSend),
          "ws frame": formatNs(get(key, "ws frame")),
          "ws send": formatNs(wsSend),
          "ws+bu send ÷ wskit send": ratio(wsBuSend, send),
          "ws send ÷ wskit send": ratio(wsSend, send),
        };
      }),
  );
  if (sink < 0) console.log(sink);
}
