// Decompression bombs against a wskit echo server (bench/load/server_bombs.ts):
// the ping round-trip time of a victim client while 1–4 attacker connections
// send permessage-deflate messages as fast as they can, with large messages
// inflated off the event loop (the default) and, for comparison, all on it
// (WSKIT_SYNC_INFLATE=1, `maxSyncInflate: Infinity`).
//
// Scenarios: "bomb", ~65 KB that inflate past the 64 MiB limit (1009, then
// the attacker reconnects); "big", ~60 KB that inflate to 60 MiB, under the
// limit, which the server echoes (compressing 60 MiB again); "big-ack", the
// same message answered with a short "ok" (inflating only). The victim sends
// a ping every 10 ms (open loop, so a stalled server shows in every ping it
// delays) on a connection without extensions; RTTs of pings sent during the
// measured window count. Plain node:net clients, frames built once.
//
//   node bench/load/bombs.mjs [--runtimes node,deno,bun] [--attackers 1,4]
//     [--scenarios bomb,big-ack,big] [--modes async,sync] [--duration 5000]
//     [--json]

import { join } from "node:path";
import { parseArgs } from "node:util";
import { constants, deflateRawSync } from "node:zlib";
import {
  bin,
  cleanUpOnExit,
  cpuSeconds,
  frame,
  here,
  openRaw,
  spawnServer,
  stop,
  waitForReady,
} from "./common.mjs";

const { values: args } = parseArgs({
  options: {
    runtimes: { type: "string", default: "node,deno,bun" },
    attackers: { type: "string", default: "1,4" },
    scenarios: { type: "string", default: "bomb,big-ack,big" },
    modes: { type: "string", default: "async,sync" },
    duration: { type: "string", default: "5000" },
    json: { type: "boolean", default: false },
  },
});
const DURATION = Number(args.duration);
const WARMUP = 500;
const PING_EVERY = 10;

cleanUpOnExit();

const SERVER = join(here, "server_bombs.ts");
const commands = {
  node: { cmd: process.execPath, args: ["--import", "tsx", SERVER] },
  deno: { cmd: bin("deno"), args: ["run", "-A", "--no-check", SERVER] },
  bun: { cmd: bin("bun"), args: ["run", SERVER] },
};

/** `size` bytes of zeros, raw-deflated, without the sync-flush tail. */
function zeros(size) {
  const out = deflateRawSync(new Uint8Array(size), {
    level: 9,
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  return out.subarray(0, out.length - 4);
}

const PAYLOADS = {
  bomb: zeros(64 * 1024 * 1024 + 65536),
  big: zeros(60 * 1024 * 1024),
};
const FRAMES = {
  bomb: frame(0x2, PAYLOADS.bomb, { compressed: true }),
  big: frame(0x2, PAYLOADS.big, { compressed: true }),
};
FRAMES["big-ack"] = FRAMES.big;

/**
 * Counts whole frames in a byte stream (headers parsed, payloads skipped):
 * `onFrame(opcode, payloadStart)` for each, with the buffer when it is whole.
 */
function frameCounter(onFrame) {
  let buffer = Buffer.alloc(0);
  let skip = 0;
  return (data) => {
    if (skip > 0) {
      const n = Math.min(skip, data.length);
      skip -= n;
      data = data.subarray(n);
      if (data.length === 0) return;
    }
    buffer = buffer.length === 0 ? data : Buffer.concat([buffer, data]);
    while (buffer.length >= 2) {
      let len = buffer[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buffer.length < 4) return;
        len = buffer.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buffer.length < 10) return;
        len = Number(buffer.readBigUInt64BE(2));
        at = 10;
      }
      const opcode = buffer[0] & 0x0f;
      if (buffer.length < at + len) {
        if (len > 4096) {
          // A large payload: skip it as it streams past.
          onFrame(opcode, undefined);
          skip = at + len - buffer.length;
          buffer = Buffer.alloc(0);
        }
        return;
      }
      onFrame(opcode, buffer.subarray(at, at + len));
      buffer = buffer.subarray(at + len);
    }
  };
}

/** One attacker: sends its message, and again as soon as it may (reconnecting after a close). */
async function attacker(port, scenario, state) {
  while (!state.stop) {
    let conn;
    try {
      conn = await openRaw(port, true);
    } catch {
      continue;
    }
    const { socket } = conn;
    await new Promise((resolve) => {
      const onFrame = (opcode) => {
        if (opcode === 0x8) {
          state.closes++;
          socket.destroy();
        } else if (opcode === 0x1 || opcode === 0x2 || opcode === 0x0) {
          state.echoes++;
          if (!state.stop) socket.write(FRAMES[scenario]);
        }
      };
      socket.on("data", frameCounter(onFrame));
      socket.on("error", () => {});
      socket.on("close", resolve);
      socket.write(FRAMES[scenario]);
      state.sent++;
      const stopper = setInterval(() => {
        if (state.stop) {
          clearInterval(stopper);
          socket.destroy();
        }
      }, 50);
      socket.on("close", () => clearInterval(stopper));
    });
  }
}

/** The victim: a ping every PING_EVERY ms; resolves with the RTTs (ms) of pings sent in the window. */
async function victim(port, state) {
  const { socket, rest } = await openRaw(port, false);
  const sentAt = new Map();
  const rtts = [];
  let seq = 0;
  const onFrame = (opcode, payload) => {
    if (opcode !== 0xa || payload === undefined) return;
    const id = payload.toString();
    const t = sentAt.get(id);
    if (t === undefined) return;
    sentAt.delete(id);
    if (t.counted) rtts.push(performance.now() - t.at);
  };
  const count = frameCounter(onFrame);
  socket.on("data", count);
  if (rest.length > 0) count(rest);
  const timer = setInterval(() => {
    const id = String(seq++);
    sentAt.set(id, { at: performance.now(), counted: state.measuring });
    socket.write(frame(0x9, Buffer.from(id)));
  }, PING_EVERY);
  await new Promise((r) => setTimeout(r, WARMUP + DURATION));
  clearInterval(timer);
  // Let the last pings come back (bounded).
  const deadline = Date.now() + 5000;
  while (
    [...sentAt.values()].some((t) => t.counted) && Date.now() < deadline
  ) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const lost = [...sentAt.values()].filter((t) => t.counted).length;
  socket.destroy();
  return { rtts, lost };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function runOne(runtime, scenario, mode, attackers) {
  const command = commands[runtime];
  const child = spawnServer(
    { name: "wskit", ...command },
    {
      PORT: "0",
      ...(mode === "sync" ? { WSKIT_SYNC_INFLATE: "1" } : {}),
      ...(scenario === "big-ack" ? { WSKIT_ACK: "1" } : {}),
    },
  );
  try {
    const port = await waitForReady(child, `${runtime} server`);
    const state = {
      stop: false,
      measuring: false,
      sent: 0,
      closes: 0,
      echoes: 0,
    };
    const victimDone = victim(port, state);
    const attacks = Array.from(
      { length: attackers },
      () => attacker(port, scenario, state),
    );
    await new Promise((r) => setTimeout(r, WARMUP));
    const cpu0 = cpuSeconds(child.pid);
    const base = { closes: state.closes, echoes: state.echoes };
    state.measuring = true;
    await new Promise((r) => setTimeout(r, DURATION));
    state.measuring = false;
    const cpu = (cpuSeconds(child.pid) - cpu0) / (DURATION / 1000);
    const handled = (state.closes - base.closes) + (state.echoes - base.echoes);
    const { rtts, lost } = await victimDone;
    state.stop = true;
    await Promise.all(attacks);
    rtts.sort((a, b) => a - b);
    return {
      runtime,
      scenario,
      mode,
      attackers,
      pings: rtts.length,
      lost,
      p50: percentile(rtts, 0.5),
      p99: percentile(rtts, 0.99),
      max: rtts[rtts.length - 1] ?? NaN,
      perSecond: handled / (DURATION / 1000),
      closes: state.closes - base.closes,
      echoes: state.echoes - base.echoes,
      cpu,
    };
  } finally {
    await stop(child);
  }
}

const results = [];
const fmt = (x) => (Number.isFinite(x) ? x.toFixed(1) : "–");
if (!args.json) {
  console.log(
    "| runtime | scenario | inflate | attackers | victim pings | ping p50 ms | ping p99 ms | max ms | attacks handled/s | server CPU |",
  );
  console.log("|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
}
for (const runtime of args.runtimes.split(",")) {
  for (const scenario of args.scenarios.split(",")) {
    for (const attackers of args.attackers.split(",").map(Number)) {
      for (const mode of args.modes.split(",")) {
        const r = await runOne(runtime, scenario, mode, attackers);
        results.push(r);
        if (!args.json) {
          console.log(
            `| ${r.runtime} | ${r.scenario} | ${
              r.mode === "sync" ? "on the loop (before)" : "off the loop"
            } | ${r.attackers} | ${r.pings}${
              r.lost ? ` (${r.lost} lost)` : ""
            } | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${
              fmt(r.perSecond)
            } | ${r.cpu.toFixed(2)} |`,
          );
        }
      }
    }
  }
}
if (args.json) console.log(JSON.stringify(results, null, 2));
