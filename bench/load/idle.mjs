// The idle-connection benchmark: how much server memory each open, idle
// WebSocket connection costs, for the same echo servers as run.mjs (Node:
// wskit bundled with esbuild, ws with and without bufferutil; Deno: wskit,
// Deno.upgradeWebSocket; Bun: wskit, Bun.serve).
//
//   node bench/load/idle.mjs [--runtimes node,deno,bun] [--servers wskit,ws]
//                            [--connections 10000] [--repeats 3]
//                            [--batch 250] [--settle 2000] [--json]
//
// Each run starts a fresh server process (PORT=0, waits for `READY <port>`),
// waits 1 s and samples its VmRSS (/proc/<pid>/status) as the baseline, then
// has bench/load/idle_client.mjs, in a process of its own, open
// `--connections` connections, `--batch` at a time, each completing the
// handshake and one echo of a 16-byte masked message. Once all are open it
// waits `--settle` ms, then samples RSS every 250 ms until it stops growing
// (less than 64 bytes per connection in the last second; at most 20 s more):
// that sample is "after". A last sample 3 s later shows whether it stays
// there. Cost per connection = (after − baseline) / connections. For each
// runtime the servers take turns (A B C A B C ...) and the table shows
// medians over `--repeats`; "wskit ÷ this" divides wskit's cost per
// connection by the server's (below 1: wskit needs less). KB and MB here are
// 1024 and 1024² bytes, as in /proc. Every process started here is stopped
// (SIGTERM, then SIGKILL after 2 s) after each run, on errors and on Ctrl-C.

import { spawn } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  cleanUpOnExit,
  COMMON_OPTIONS,
  fmt,
  here,
  median,
  root,
  rssBytes,
  selectServers,
  sleep,
  spawnServer,
  stop,
  stopAll,
  track,
  versionOf,
  waitForReady,
} from "./common.mjs";

const { values } = parseArgs({
  options: {
    ...COMMON_OPTIONS,
    connections: { type: "string", default: "10000" },
    batch: { type: "string", default: "250" },
    settle: { type: "string", default: "2000" },
  },
});
const CONNECTIONS = Number(values.connections);
const REPEATS = Number(values.repeats);
const KB = 1024;
const MB = 1024 * 1024;
/** RSS sampling period while waiting for it to stop growing. */
const SAMPLE_MS = 250;
/** "Stopped growing": less than this many bytes per connection in 1 s. */
const STILL_PER_CONNECTION = 64;
/** The longest wait for RSS to stop growing, after `--settle`. */
const MAX_WAIT_MS = 20000;
/** When the second "after" sample is taken. */
const RECHECK_MS = 3000;

cleanUpOnExit({ graceful: true });

/** Calls `onLine` with each line `stream` prints. */
function readLines(stream, onLine) {
  let buffered = "";
  stream.setEncoding("utf8");
  stream.on("data", (data) => {
    buffered += data;
    let nl;
    while ((nl = buffered.indexOf("\n")) !== -1) {
      onLine(buffered.slice(0, nl).trim());
      buffered = buffered.slice(nl + 1);
    }
  });
}

/** Starts the client; resolves once all its connections are open. */
function startClient(port, stats) {
  const client = track(spawn(process.execPath, [
    join(here, "idle_client.mjs"),
    "--port",
    String(port),
    "--connections",
    String(CONNECTIONS),
    "--batch",
    values.batch,
  ], { cwd: root, stdio: ["ignore", "pipe", "inherit"] }));
  const opened = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${CONNECTIONS} connections not open in time`)),
      60000 + CONNECTIONS * 20,
    );
    readLines(client.stdout, (line) => {
      const lost = /^LOST (\d+)/.exec(line);
      if (lost) stats.lost = Number(lost[1]);
      const open = /^OPEN (\d+) (\d+)/.exec(line);
      if (open) {
        clearTimeout(timer);
        stats.openMs = Number(open[2]);
        resolve();
      }
    });
    client.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the client exited (${code ?? signal})`));
    });
  });
  return { client, opened };
}

/** Samples `pid`'s RSS until it stops growing; returns the last sample. */
async function rssWhenStill(pid) {
  const window = 1000 / SAMPLE_MS;
  const samples = [rssBytes(pid)];
  const started = performance.now();
  while (performance.now() - started < MAX_WAIT_MS) {
    await sleep(SAMPLE_MS);
    samples.push(rssBytes(pid));
    if (samples.length > window) {
      const growth = samples.at(-1) - samples.at(-1 - window);
      if (growth < STILL_PER_CONNECTION * CONNECTIONS) break;
    }
  }
  return { rss: samples.at(-1), waitedMs: performance.now() - started };
}

async function runOnce(server) {
  const child = spawnServer(server, { PORT: "0" });
  let client;
  try {
    const port = await waitForReady(child, server.name);
    await sleep(1000);
    const baseline = rssBytes(child.pid);
    const stats = { lost: 0, openMs: NaN };
    const started = startClient(port, stats);
    client = started.client;
    await started.opened;
    await sleep(Number(values.settle));
    const { rss: after, waitedMs } = await rssWhenStill(child.pid);
    await sleep(RECHECK_MS);
    const later = rssBytes(child.pid);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error("the server exited");
    }
    return {
      baseline,
      after,
      later,
      perConnection: (after - baseline) / CONNECTIONS,
      perConnectionLater: (later - baseline) / CONNECTIONS,
      openMs: stats.openMs,
      waitedMs: Number(values.settle) + waitedMs,
      lost: stats.lost,
    };
  } catch (error) {
    return { error: error.message };
  } finally {
    await Promise.all([stop(child), client && stop(client)]);
  }
}

const all = [];
try {
  for (const runtime of values.runtimes.split(",")) {
    const servers = await selectServers(
      runtime,
      values.servers,
      values.baseline,
    );
    const version = await versionOf(runtime);
    const runs = new Map(servers.map((s) => [s.name, []]));
    for (let r = 0; r < REPEATS; r++) {
      for (const server of servers) {
        const result = await runOnce(server);
        runs.get(server.name).push(result);
        process.stderr.write(
          `${runtime} #${r + 1} ${server.name}: ` +
            (result.error !== undefined ? `failed: ${result.error}\n` : (
              `baseline ${fmt(result.baseline / MB, 1)} MB, after ${
                fmt(result.after / MB, 1)
              } MB (+3 s: ${fmt(result.later / MB, 1)} MB), ` +
              `${fmt(result.perConnection / KB, 2)} KB per connection; ` +
              `opened in ${fmt(result.openMs / 1000, 1)} s, still after ${
                fmt(result.waitedMs / 1000, 1)
              } s${result.lost ? `, ${result.lost} lost` : ""}\n`
            )),
        );
      }
    }
    const rows = servers.map((server) => {
      const list = runs.get(server.name).filter((x) => x.error === undefined);
      const pick = (f) => median(list.map(f));
      return {
        server: server.name,
        runs: list.length,
        baseline: pick((x) => x.baseline / MB),
        after: pick((x) => x.after / MB),
        later: pick((x) => x.later / MB),
        perConnection: pick((x) => x.perConnection / KB),
        perConnectionLater: pick((x) => x.perConnectionLater / KB),
        lost: list.reduce((n, x) => n + x.lost, 0),
        errors: runs.get(server.name).filter((x) => x.error !== undefined)
          .map((x) => x.error),
      };
    });
    all.push({ runtime, version, connections: CONNECTIONS, rows, runs });
    const base = rows[0].perConnection;
    console.log(
      `\n${version} — ${CONNECTIONS} idle connections; median of ${REPEATS} ` +
        `(KB = 1024 B, MB = 1024² B)\n`,
    );
    console.log(
      "| server | connections | baseline RSS MB | RSS after MB | RSS +3 s MB | KB per connection | KB per conn. at +3 s | wskit ÷ this |",
    );
    console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const row of rows) {
      const notes = [
        row.runs < REPEATS ? `${REPEATS - row.runs} of ${REPEATS} failed` : "",
        row.lost ? `${row.lost} connections lost` : "",
      ].filter(Boolean).join(", ");
      console.log(
        `| ${row.server} | ${CONNECTIONS} | ${fmt(row.baseline, 1)} | ${
          fmt(row.after, 1)
        } | ${fmt(row.later, 1)} | ${fmt(row.perConnection, 2)} | ${
          fmt(row.perConnectionLater, 2)
        } | ${row === rows[0] ? "" : fmt(base / row.perConnection, 2) + "×"}${
          notes ? ` (${notes})` : ""
        } |`,
      );
    }
    for (const row of rows) {
      for (const error of new Set(row.errors)) {
        console.log(`\n${row.server} failed: ${error}`);
      }
    }
  }
} catch (error) {
  console.error(error);
  await stopAll();
  process.exit(1);
}
if (values.json) console.log(JSON.stringify(all));
