// The load benchmark: echo servers built on wskit against each runtime's
// usual competitor, driven by bench/load/generator.mjs in a separate process,
// on loopback.
//
//   node bench/load/run.mjs [--runtimes node,deno,bun] [--scenarios small,16k,1m]
//                           [--repeats 3] [--duration 5000] [--warmup 1000]
//
// Servers: Node — wskit, ws+bufferutil, ws (WS_NO_BUFFER_UTIL=1); Deno —
// wskit, Deno.upgradeWebSocket; Bun — wskit, Bun.serve. For each runtime and
// scenario the servers take turns (A B C A B C ...), each run in a fresh
// server process; the table shows medians over the repeats. Peak RSS is the
// largest VmRSS sampled every 50 ms from connect to the end of the run.
// Server and generator CPU are CPU seconds per wall second over the measured
// window (1.00 = one core busy). Every process started here is stopped
// before the next run and on exit.

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const bin = (name) => join(root, "node_modules", ".bin", name);

const { values } = parseArgs({
  options: {
    runtimes: { type: "string", default: "node,deno,bun" },
    scenarios: { type: "string", default: "small,16k,1m" },
    servers: { type: "string", default: "" },
    repeats: { type: "string", default: "3" },
    duration: { type: "string", default: "5000" },
    warmup: { type: "string", default: "1000" },
    json: { type: "boolean", default: false },
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

/** Bundles the wskit server for Node, so no TypeScript loader runs in it. */
async function bundleForNode() {
  const esbuild = await import("esbuild");
  const outfile = join(tmpdir(), `wskit-bench-server-${process.pid}.mjs`);
  await esbuild.build({
    entryPoints: [join(here, "server_wskit.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    logLevel: "warning",
  });
  return outfile;
}

async function serversFor(runtime) {
  switch (runtime) {
    case "node": {
      const bundle = await bundleForNode();
      return [
        { name: "wskit", cmd: process.execPath, args: [bundle] },
        {
          name: "ws+bufferutil",
          cmd: process.execPath,
          args: [join(here, "server_ws.mjs")],
        },
        {
          name: "ws",
          cmd: process.execPath,
          args: [join(here, "server_ws.mjs")],
          env: { WS_NO_BUFFER_UTIL: "1" },
        },
      ];
    }
    case "deno":
      return [
        {
          name: "wskit",
          cmd: bin("deno"),
          args: ["run", "-A", "--no-check", join(here, "server_wskit.ts")],
        },
        {
          name: "Deno built-in",
          cmd: bin("deno"),
          args: ["run", "-A", "--no-check", join(here, "server_deno.ts")],
        },
      ];
    case "bun":
      return [
        {
          name: "wskit",
          cmd: bin("bun"),
          args: ["run", join(here, "server_wskit.ts")],
        },
        {
          name: "Bun built-in",
          cmd: bin("bun"),
          args: ["run", join(here, "server_bun.ts")],
        },
      ];
    default:
      throw new Error(`unknown runtime ${runtime}`);
  }
}

const children = new Set();
function track(child) {
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}
function killAll() {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
  }
}
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** Resolves with each stdout line of `child` passed to `onLine` until it returns a value. */
function waitForLine(child, onLine, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${what}`)),
      timeoutMs,
    );
    const onData = (data) => {
      buffered += data;
      let nl;
      while ((nl = buffered.indexOf("\n")) !== -1) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        const value = onLine(line);
        if (value !== undefined) {
          clearTimeout(timer);
          child.stdout.off("data", onData);
          resolve(value);
          return;
        }
      }
    };
    child.stdout.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what}: process exited with ${code}`));
    });
  });
}

const CLK_TCK = 100;
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime + stime
  } catch {
    return NaN;
  }
}
function rssBytes(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
  await exited;
  clearTimeout(timer);
}

async function runOnce(server, scenario) {
  const child = track(spawn(server.cmd, server.args, {
    cwd: root,
    env: { ...process.env, ...server.env, PORT: "0" },
    stdio: ["ignore", "pipe", "inherit"],
  }));
  child.stdout.setEncoding("utf8");
  try {
    const port = await waitForLine(
      child,
      (line) => {
        const m = /^READY (\d+)/.exec(line);
        return m ? Number(m[1]) : undefined;
      },
      30000,
      `${server.name} to listen`,
    );
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

function median(list) {
  const sorted = list.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function versionOf(runtime) {
  if (runtime === "node") return `Node ${process.version}`;
  return new Promise((resolve) => {
    const child = spawn(bin(runtime), ["--version"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on(
      "exit",
      () =>
        resolve(
          `${runtime === "deno" ? "Deno" : "Bun"} ${
            out.split("\n")[0].replace(/^deno /, "")
          }`,
        ),
    );
  });
}

const fmt = (x, digits = 0) => Number.isFinite(x) ? x.toFixed(digits) : "—";
const repeats = Number(values.repeats);
const all = [];

for (const runtime of values.runtimes.split(",")) {
  let servers = await serversFor(runtime);
  if (values.servers) {
    const keep = values.servers.split(",");
    servers = servers.filter((s) => keep.includes(s.name));
  }
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
