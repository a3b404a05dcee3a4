/**
 * Decoding masked client frames (the server's receive path): wskit's
 * `Connection.receive` (frames to message events, the whole path), its bare
 * `FrameDecoder` (no message assembly; in a child process), and `ws`'s
 * `Receiver` with and without `bufferutil` (without: in a child process),
 * on the same bytes.
 *
 *     node --import tsx bench/decode.bench.ts
 *     deno run -A bench/decode.bench.ts
 *     bun run bench/decode.bench.ts
 *
 * Cases: one frame per chunk (16 B, 125 B, 1 KiB, 64 KiB, 1 MiB payloads),
 * 64 KiB chunks packed with many small frames, and one 1 MiB frame arriving
 * in 64 KiB chunks. Binary frames, except the "text" cases (ASCII, masked
 * with a key whose bytes are below 0x80 so that it stays valid UTF-8 however
 * many times it is unmasked in place). `ws` is fed through `_write`, the
 * parser itself, skipping the `Writable` stream machinery in front of it.
 * The table shows the median time per frame; "ws+bu ÷ wskit" is how many
 * times faster `Connection.receive` is than `ws` with `bufferutil`.
 *
 * Flags: `--quick`, `--filter TEXT`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { Connection } from "../core/connection.ts";
import { FrameDecoder } from "../core/decoder.ts";
import {
  ASCII_SAFE_KEY,
  buildFrame,
  decoderOnly,
  formatNs,
  jsonOutput,
  loadWs,
  printJson,
  ratio,
  repeatFrame,
  runChild,
  runtimeLabel,
  runWsChild,
  Suite,
  wsOnly,
} from "./common.ts";

interface Case {
  name: string;
  /** The chunks one call feeds, in order (a call may repeat them). */
  chunks: Uint8Array[];
  /** How many times a call feeds `chunks`. */
  repeat: number;
  /** Frames decoded per call. */
  frames: number;
  /** Payload bytes per frame. */
  size: number;
}

const CHUNK = 64 * 1024;
/** Aim for about this many payload bytes (or 2000 frames) per task call. */
const BYTES_PER_CALL = 256 * 1024;

function payloadOf(size: number, text: boolean): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = text ? 0x61 + (i % 26) : i * 31;
  return out;
}

function cases(): Case[] {
  const list: Case[] = [];
  for (const size of [16, 125, 1024, 65536, 1 << 20]) {
    const frame = buildFrame(0x2, payloadOf(size, false), ASCII_SAFE_KEY);
    const repeat = Math.max(
      1,
      Math.min(2000, Math.ceil(BYTES_PER_CALL / size)),
    );
    list.push({
      name: `${label(size)} binary, 1 frame/chunk`,
      chunks: [frame],
      repeat,
      frames: repeat,
      size,
    });
  }
  for (
    const [size, text] of [[16, false], [16, true], [125, false], [
      1024,
      false,
    ]] as const
  ) {
    const frame = buildFrame(
      text ? 0x1 : 0x2,
      payloadOf(size, text),
      ASCII_SAFE_KEY,
    );
    const perChunk = Math.floor(CHUNK / frame.length);
    list.push({
      name: `${label(size)} ${
        text ? "text" : "binary"
      }, ${perChunk} frames/64 KiB chunk`,
      chunks: [repeatFrame(frame, perChunk)],
      repeat: 4,
      frames: 4 * perChunk,
      size,
    });
  }
  {
    const size = 1 << 20;
    const frame = buildFrame(0x2, payloadOf(size, false), ASCII_SAFE_KEY);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < frame.length; i += CHUNK) {
      chunks.push(frame.slice(i, i + CHUNK));
    }
    list.push({
      name: `1 MiB binary, in 64 KiB chunks`,
      chunks,
      repeat: 1,
      frames: 1,
      size,
    });
  }
  return list;
}

function label(size: number): string {
  return size >= 1 << 20
    ? `${size >> 20} MiB`
    : size >= 1024
    ? `${size >> 10} KiB`
    : `${size} B`;
}

const ws = loadWs();
const suite = new Suite();
const all = cases();
const add = suite.add.bind(suite);

let sinkCount = 0;
for (const c of all) {
  const { chunks, repeat } = c;
  if (!wsOnly && !decoderOnly) {
    // Each implementation gets its own copy: decoding unmasks in place.
    const own = chunks.map((chunk) => chunk.slice());
    const conn = new Connection({ role: "server" });
    add(`${c.name} | wskit`, c.frames, () => {
      for (let r = 0; r < repeat; r++) {
        for (let i = 0; i < own.length; i++) {
          const events = conn.receive(own[i]);
          for (let e = 0; e < events.length; e++) {
            if (events[e].type === "message") sinkCount++;
          }
        }
      }
    });
  }
  if (decoderOnly) {
    // In a process of its own: sharing the decoder's code with a Connection
    // sink would make its calls to the sink polymorphic.
    const bare = chunks.map((chunk) => chunk.slice());
    const decoder = new FrameDecoder({
      frameStart() {},
      framePayload() {},
      frameEnd() {
        sinkCount++;
      },
    }, { role: "server" });
    add(`${c.name} | wskit FrameDecoder`, c.frames, () => {
      for (let r = 0; r < repeat; r++) {
        for (let i = 0; i < bare.length; i++) decoder.push(bare[i]);
      }
    });
  }
  if (decoderOnly) continue;
  const buffers = chunks.map((chunk) => Buffer.from(chunk));
  const receiver = new ws.Receiver({
    isServer: true,
    binaryType: "nodebuffer",
  });
  receiver.on("message", () => sinkCount++);
  receiver.on("error", (error: Error) => {
    throw error;
  });
  const done = () => {};
  add(`${c.name} | ${ws.label}`, c.frames, () => {
    for (let r = 0; r < repeat; r++) {
      for (let i = 0; i < buffers.length; i++) {
        receiver._write(buffers[i], "buffer", done);
      }
    }
  });
}

const results = await suite.run();

if (jsonOutput) {
  printJson(results);
} else {
  const plain = ws.bufferutil ? runWsChild(import.meta.url) : new Map();
  const bare = runChild(import.meta.url, "--decoder-only");
  console.log(
    `decode (masked, server side) — ${runtimeLabel}; ns per frame, median`,
  );
  console.table(
    all.filter((c) => results.has(`${c.name} | wskit`)).map((c) => {
      const ours = results.get(`${c.name} | wskit`);
      const withBu = ws.bufferutil
        ? results.get(`${c.name} | ws+bufferutil`)
        : undefined;
      const plainWs = ws.bufferutil
        ? plain.get(`${c.name} | ws`)
        : results.get(`${c.name} | ws`);
      return {
        case: c.name,
        wskit: formatNs(ours),
        "wskit MB/s": ours ? Math.round((c.size / ours) * 1000) : "—",
        "FrameDecoder only": formatNs(
          bare.get(`${c.name} | wskit FrameDecoder`),
        ),
        "ws+bufferutil": formatNs(withBu),
        ws: formatNs(plainWs),
        "ws+bu ÷ wskit": ratio(withBu, ours),
        "ws ÷ wskit": ratio(plainWs, ours),
      };
    }),
  );
  if (sinkCount < 0) console.log(sinkCount);
}
