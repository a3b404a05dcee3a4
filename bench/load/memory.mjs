// Memory under attack: how much a server's RSS grows while one raw TCP peer
//
//  - "fragments": sends a 256 MiB binary message as 256 fragments of 1 MiB
//    (the server refuses it with 1009 once its fragments pass the 64 MiB
//    message limit), as fast as the socket takes it;
//  - "pings": sends pings with 125-byte payloads, as fast as the socket
//    takes them, for `--flood` ms, and never reads (so the pongs back up);
//  - "pings0": the same with empty pings (the most frames per byte).
//
// Each run starts a fresh server process (bench/load/server_wskit.ts, with
// `message` events; `ws` on Node, its `maxPayload` set to the same 64 MiB),
// connects, waits 1 s, takes the baseline VmRSS, attacks while sampling
// VmRSS every 10 ms, and reports the peak growth over the baseline and the
// growth 1 s after the attack ended. MB = 1024² bytes.
//
//   node bench/load/memory.mjs [--runtimes node,deno,bun] [--servers wskit,ws]
//     [--scenarios fragments,pings,pings0] [--repeats 3] [--flood 3000] [--json]

import { parseArgs } from "node:util";
import {
  cleanUpOnExit,
  COMMON_OPTIONS,
  fmt,
  frame,
  median,
  openRaw,
  rssBytes,
  selectServers,
  sleep,
  spawnServer,
  stop,
  versionOf,
  waitForReady,
} from "./common.mjs";

const { values: args } = parseArgs({
  options: {
    ...COMMON_OPTIONS,
    servers: { type: "string", default: "wskit,ws" },
    scenarios: { type: "string", default: "fragments,pings,pings0" },
    flood: { type: "string", default: "3000" },
  },
});
const REPEATS = Number(args.repeats);
const FLOOD_MS = Number(args.flood);
const MB = 1024 * 1024;
const LIMIT = 64 * MB;

cleanUpOnExit();

const FRAGMENT = new Uint8Array(MB).fill(0x61);
const FIRST = frame(0x2, FRAGMENT, { fin: false });
const MIDDLE = frame(0x0, FRAGMENT, { fin: false });
const LAST = frame(0x0, FRAGMENT);
/** About 64 KiB of ping frames each, written again and again. */
const PINGS = Buffer.concat(Array(500).fill(frame(0x9, new Uint8Array(125))));
const PINGS0 = Buffer.concat(Array(10900).fill(frame(0x9, new Uint8Array(0))));

/** Writes `next()` until it returns undefined or the socket closes, with backpressure. */
async function pump(socket, next) {
  let closed = false;
  socket.on("close", () => (closed = true));
  socket.on("error", () => {});
  while (!closed) {
    const chunk = next();
    if (chunk === undefined) break;
    if (!socket.write(chunk)) {
      await new Promise((resolve) => {
        const done = () => {
          socket.off("drain", done);
          socket.off("close", done);
          resolve();
        };
        socket.on("drain", done);
        socket.on("close", done);
        // A peer that stopped reading: give up after the flood time.
        setTimeout(done, FLOOD_MS).unref();
      });
    }
  }
}

const ATTACKS = {
  /** 256 fragments of 1 MiB; returns how many went out before the close. */
  async fragments(socket) {
    let sent = 0;
    let closeCode;
    socket.on("data", (data) => {
      // The close frame (server frames are unmasked): 0x88, length, code.
      const at = data.indexOf(0x88);
      if (at >= 0 && data.length >= at + 4) {
        closeCode = data.readUInt16BE(at + 2);
      }
    });
    await pump(socket, () => {
      if (sent === 256) return undefined;
      sent++;
      return sent === 1 ? FIRST : sent === 256 ? LAST : MIDDLE;
    });
    await sleep(200);
    return `close ${closeCode ?? "none"} after ${sent} MiB sent`;
  },
  pings: (socket) => flood(socket, PINGS, 500),
  pings0: (socket) => flood(socket, PINGS0, 10900),
};

/** Sends `chunk` (of `count` pings) for FLOOD_MS without reading. */
async function flood(socket, chunk, count) {
  socket.pause();
  const until = Date.now() + FLOOD_MS;
  let chunks = 0;
  await pump(socket, () => {
    if (Date.now() >= until) return undefined;
    chunks++;
    return chunk;
  });
  return `${(chunks * count / 1000).toFixed(0)}k pings written`;
}

async function measure(server, scenario) {
  const env = server.name.startsWith("ws")
    ? { WS_MAX_PAYLOAD: String(LIMIT) }
    : {};
  const child = spawnServer(server, env);
  const port = await waitForReady(child, server.name);
  const { socket } = await openRaw(port);
  await sleep(1000);
  const base = rssBytes(child.pid);
  let peak = base;
  const sampler = setInterval(() => {
    const rss = rssBytes(child.pid);
    if (rss > peak) peak = rss;
  }, 10);
  const note = await ATTACKS[scenario](socket);
  await sleep(1000);
  clearInterval(sampler);
  const after = rssBytes(child.pid);
  if (after > peak) peak = after;
  socket.destroy();
  await stop(child);
  return { peak: (peak - base) / MB, after: (after - base) / MB, note };
}

const results = [];
for (const runtime of args.runtimes.split(",")) {
  const version = await versionOf(runtime);
  const servers = await selectServers(runtime, args.servers, args.baseline);
  for (const scenario of args.scenarios.split(",")) {
    const runs = new Map(servers.map((s) => [s.name, []]));
    for (let r = 0; r < REPEATS; r++) {
      for (const server of servers) {
        runs.get(server.name).push(await measure(server, scenario));
      }
    }
    for (const server of servers) {
      const list = runs.get(server.name);
      const row = {
        runtime: version,
        scenario,
        server: server.name,
        peakMB: median(list.map((x) => x.peak)),
        afterMB: median(list.map((x) => x.after)),
        note: list[list.length - 1].note,
      };
      results.push(row);
      if (!args.json) {
        console.log(
          `${row.runtime} | ${scenario} | ${server.name} | peak +${
            fmt(row.peakMB, 1)
          } MB | after +${fmt(row.afterMB, 1)} MB | ${row.note} | runs: ${
            list.map((x) => fmt(x.peak, 1)).join(" ")
          }`,
        );
      }
    }
  }
}
if (args.json) console.log(JSON.stringify(results, null, 2));
