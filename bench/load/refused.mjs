// Refused handshakes whose peers keep TCP open (issue 12, item 3): N peers
// each send an upgrade request the server refuses (401), read the answer and
// never close their side (half-open allowed, so the server's FIN is not
// answered). Reported per server: its open file descriptors (from
// /proc/<pid>/fd) before, 1 s after every peer was answered, and after
// --wait ms; and what a fresh client asking for `/ok` gets at that point
// (wskit caps connections at 100 here; `ws` has no cap). Linux only.
//
//   node bench/load/refused.mjs [--peers 300] [--wait 6500]
//     [--servers "wskit node,wskit deno,wskit bun,ws"] [--json]

import * as net from "node:net";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  bin,
  cleanUpOnExit,
  here,
  spawnServer,
  stop,
  waitForReady,
} from "./common.mjs";

const { values: args } = parseArgs({
  options: {
    peers: { type: "string", default: "300" },
    wait: { type: "string", default: "6500" },
    servers: { type: "string", default: "wskit node,wskit deno,wskit bun,ws" },
    json: { type: "boolean", default: false },
  },
});

const WSKIT = join(here, "server_refuse.ts");
const SERVERS = {
  "wskit node": { cmd: process.execPath, args: ["--import", "tsx", WSKIT] },
  "wskit deno": { cmd: bin("deno"), args: ["run", "-A", "--no-check", WSKIT] },
  "wskit bun": { cmd: bin("bun"), args: ["run", WSKIT] },
  "ws": { cmd: process.execPath, args: [join(here, "server_refuse_ws.mjs")] },
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const fds = (pid) => readdirSync(`/proc/${pid}/fd`).length;

function request(path) {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\n\r\n";
}

/** A peer that sends `path`'s upgrade and never closes; resolves with it once answered. */
function holder(port, path) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      port,
      host: "127.0.0.1",
      allowHalfOpen: true,
    });
    socket.once("error", reject);
    socket.once("connect", () => socket.write(request(path)));
    socket.once("data", (data) => {
      socket.status = Number(data.toString("latin1").split(" ")[1]);
      resolve(socket);
    });
  });
}

/** The status a fresh client gets for `/ok` (0: none within 3 s). */
async function fresh(port) {
  const socket = await Promise.race([holder(port, "/ok"), sleep(3000)]);
  if (socket === undefined) return 0;
  socket.destroy();
  return socket.status;
}

async function runOne(name) {
  const child = spawnServer({ name, ...SERVERS[name] }, { PORT: "0" });
  try {
    const port = await waitForReady(child, name);
    await sleep(300);
    const before = fds(child.pid);
    const peers = [];
    for (let i = 0; i < Number(args.peers); i += 50) {
      const batch = Array.from(
        { length: Math.min(50, Number(args.peers) - i) },
        () => holder(port, "/refused"),
      );
      peers.push(...await Promise.all(batch));
    }
    await sleep(1000);
    const held = fds(child.pid);
    const freshWhileHeld = await fresh(port);
    await sleep(Number(args.wait) - 1000);
    const after = fds(child.pid);
    const freshAfter = await fresh(port);
    const statuses = [...new Set(peers.map((p) => p.status))].join(",");
    for (const peer of peers) peer.destroy();
    return {
      name,
      peers: peers.length,
      statuses,
      before,
      held,
      after,
      freshWhileHeld,
      freshAfter,
    };
  } finally {
    await stop(child);
  }
}

cleanUpOnExit();
const rows = [];
for (const name of args.servers.split(",")) rows.push(await runOne(name));
if (args.json) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  console.log(
    `| server | refused peers (status) | fds before | fds 1 s later | fresh client then | fds after ${args.wait} ms | fresh client then |`,
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.peers} (${r.statuses}) | ${r.before} | ${r.held} | ${r.freshWhileHeld} | ${r.after} | ${r.freshAfter} |`,
    );
  }
}
