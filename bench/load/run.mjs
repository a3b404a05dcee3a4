// The load benchmark: echo servers built on wskit against each runtime's
// usual competitor, driven by bench/load/generator.mjs in a separate process,
// on loopback.
//
//   node bench/load/run.mjs [--runtimes node,deno,bun] [--scenarios small,16k,1m]
//                           [--repeats 3] [--duration 5000] [--warmup 1000]
//
// Servers: wskit twice on each runtime (with `message` events, and with the
// `onMessage` callback), then Node — ws+bufferutil, ws (WS_NO_BUFFER_UTIL=1);
// Deno — Deno.upgradeWebSocket; Bun — Bun.serve. For each runtime and
// scenario the servers take turns (A B C A B C ...), each run in a fresh
// server process; the table shows medians over the repeats. Peak RSS is the
// largest VmRSS sampled every 50 ms from connect to the end of the run.
// Server and generator CPU are CPU seconds per wall second over the measured
// window (1.00 = one core busy). Every process started here is stopped
// before the next run and on exit.

import { spawn } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  cleanUpOnExit,
  COMMON_OPTIONS,
  cpuSeconds,
  fmt,
  here,
  median,
  root,
  rssBytes,
  selectServers,
  spawnServer,
  stop,
  track,
  versionOf,
  waitForLine,
  waitForReady,
} from "./common.mjs";

const { values } = parseArgs({
  options: {
    ...COMMON_OPTIONS,
    scenarios: { type: "string", default: "small,16k,1m" },
    duration: { type: "string", default: "5000" },
    warmup: { type: "string", default: "1000" },
  },
});

const SCENARIOS = {
  small: {
    label: "32 B text, 64 conns × 16 in flight",
    connections: 64,
    inflight: 16,
    size: 32,
    text: true,
  },
  "16k": {
    label: "16 KiB binary, 32 conns × 4 in flight",
    connections: 32,
    inflight: 4,
    size: 16384,
    text: false,
  },
  "1m": {
    label: "1 MiB binary, 8 conns × 2 in flight",
    connections: 8,
    inflight: 2,
    size: 1 << 20,
    text: false,
  },
};

cleanUpOnExit();

async function runOnce(server, scenario) {
  const child = spawnServer(server, { PORT: "0" });
  try {
    const port = await waitForReady(child, server.name);
    let peakRss = rssBytes(child.pid);
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, rssBytes(child.pid));
    }, 50);
    const gen = track(spawn(process.execPath, [
      join(here, "generator.mjs"),
      "--port",
      String(port),
      "--connections",
      String(scenario.connections),
      "--inflight",
      String(scenario.inflight),
      "--size",
      String(scenario.size),
      ...(scenario.text ? ["--text"] : []),
      "--warmup",
      values.warmup,
      "--duration",
      values.duration,
    ], { cwd: root, stdio: ["ignore", "pipe", "inherit"] }));
    gen.stdout.setEncoding("utf8");
    let cpuStart = NaN;
    let tStart = 0;
    let result;
    try {
      result = await waitForLine(
        gen,
        (line) => {
          if (line === "start") {
            cpuStart = cpuSeconds(child.pid);
            tStart = performance.now();
            return undefined;
          }
          if (line.startsWith("{")) return JSON.parse(line);
          return undefined;
        },
        Number(values.warmup) + Number(values.duration) + 60000,
        "the generator",
      );
    } finally {
      clearInterval(sampler);
      await stop(gen);
    }
    const serverCpu = (cpuSeconds(child.pid) - cpuStart) /
      ((performance.now() - tStart) / 1000);
    peakRss = Math.max(peakRss, rssBytes(child.pid));
    return { ...result, serverCpu, peakRss };
  } finally {
    await stop(child);
  }
}

const repeats = Number(values.repeats);
const all = [];

for (const runtime of values.runtimes.split(",")) {
  const servers = await selectServers(runtime, values.servers, values.baseline);
  const version = await versionOf(runtime);
  for (const key of values.scenarios.split(",")) {
    const scenario = SCENARIOS[key];
    const runs = new Map(servers.map((s) => [s.name, []]));
    for (let r = 0; r < repeats; r++) {
      for (const server of servers) {
        const result = await runOnce(server, scenario);
        runs.get(server.name).push(result);
        process.stderr.write(
          `${runtime} ${key} #${r + 1} ${server.name}: ${
            fmt(result.messagesPerSecond)
          } msg/s, ` +
            `p99 ${fmt(result.p99Micros / 1000, 2)} ms, server CPU ${
              fmt(result.serverCpu, 2)
            }, ` +
            `generator CPU ${fmt(result.generatorCpu, 2)}${
              result.errors ? `, ${result.errors} errors` : ""
            }\n`,
        );
      }
    }
    const rows = servers.map((server) => {
      const list = runs.get(server.name);
      const pick = (f) => median(list.map(f));
      return {
        server: server.name,
        msgs: pick((x) => x.messagesPerSecond),
        mbs: pick((x) => x.megabytesPerSecond),
        p50: pick((x) => x.p50Micros / 1000),
        p99: pick((x) => x.p99Micros / 1000),
        rss: pick((x) => x.peakRss / 1e6),
        serverCpu: pick((x) => x.serverCpu),
        generatorCpu: pick((x) => x.generatorCpu),
        errors: list.reduce((n, x) => n + x.errors, 0),
      };
    });
    all.push({ runtime, version, scenario: key, label: scenario.label, rows });
    const base = rows[0].msgs;
    console.log(
      `\n${version} — ${scenario.label}; median of ${repeats}, ${values.duration} ms each\n`,
    );
    console.log(
      "| server | msg/s | MB/s | p50 ms | p99 ms | peak RSS MB | server CPU | generator CPU | wskit ÷ this |",
    );
    console.log(
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const row of rows) {
      console.log(
        `| ${row.server} | ${fmt(row.msgs)} | ${fmt(row.mbs, 1)} | ${
          fmt(row.p50, 2)
        } | ${fmt(row.p99, 2)} | ` +
          `${fmt(row.rss)} | ${fmt(row.serverCpu, 2)} | ${
            fmt(row.generatorCpu, 2)
          } | ` +
          `${row === rows[0] ? "" : fmt(base / row.msgs, 2) + "×"}${
            row.errors ? ` (${row.errors} errors)` : ""
          } |`,
      );
    }
  }
}
if (values.json) console.log(JSON.stringify(all));
