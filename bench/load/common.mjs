// Helpers shared by the load benchmarks (run.mjs, idle.mjs): the echo
// servers of each runtime, bundling the wskit server for Node, starting and
// stopping processes, and sampling a process's /proc entries.

import { spawn } from "node:child_process";
import * as net from "node:net";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, "..", "..");
export const bin = (name) => join(root, "node_modules", ".bin", name);

/**
 * Bundles the wskit server of the checkout at `dir` (default this one) for
 * Node, so no TypeScript loader runs in it.
 */
export async function bundleForNode(dir = root) {
  const esbuild = await import("esbuild");
  const tag = dir === root ? "" : "-base";
  const outfile = join(tmpdir(), `wskit-bench-server-${process.pid}${tag}.mjs`);
  await esbuild.build({
    entryPoints: [join(dir, "bench", "load", "server_wskit.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    logLevel: "warning",
  });
  return outfile;
}

/** Command-line options every load script takes (for `parseArgs`). */
export const COMMON_OPTIONS = {
  runtimes: { type: "string", default: "node,deno,bun" },
  servers: { type: "string", default: "" },
  /**
   * Another checkout of wskit (e.g. a worktree at the commit before a
   * change): its two wskit servers run too, named "… (base)", interleaved
   * with the others, for a before/after in one run.
   */
  baseline: { type: "string", default: "" },
  repeats: { type: "string", default: "3" },
  json: { type: "boolean", default: false },
};

/**
 * The servers of `runtime` (see `serversFor`), only those named in the
 * comma-separated `names` when it is not empty.
 */
export async function selectServers(runtime, names, baseline = "") {
  const servers = await serversFor(runtime);
  if (baseline) {
    const base = await serversFor(runtime, resolve(baseline));
    servers.splice(
      2,
      0,
      ...base.slice(0, 2).map((server) => ({
        ...server,
        name: `${server.name} (base)`,
      })),
    );
  }
  if (!names) return servers;
  const keep = names.split(",");
  return servers.filter((server) => keep.includes(server.name));
}

/** Makes server_wskit.ts deliver messages through `onMessage`, not events. */
const CALLBACK = { WSKIT_API: "callback" };

/**
 * The echo servers of `runtime`, wskit first (with `message` events, then
 * with the `onMessage` callback): each `{ name, cmd, args, env? }`.
 * Every server listens on 127.0.0.1:$PORT and prints `READY <port>`.
 */
export async function serversFor(runtime, dir = root) {
  const wskit = join(dir, "bench", "load", "server_wskit.ts");
  switch (runtime) {
    case "node": {
      const bundle = await bundleForNode(dir);
      return [
        { name: "wskit", cmd: process.execPath, args: [bundle] },
        {
          name: "wskit onMessage",
          cmd: process.execPath,
          args: [bundle],
          env: CALLBACK,
        },
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
          args: ["run", "-A", "--no-check", wskit],
        },
        {
          name: "wskit onMessage",
          cmd: bin("deno"),
          args: ["run", "-A", "--no-check", wskit],
          env: CALLBACK,
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
          args: ["run", wskit],
        },
        {
          name: "wskit onMessage",
          cmd: bin("bun"),
          args: ["run", wskit],
          env: CALLBACK,
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

/** The processes started and not yet exited. */
const children = new Set();

/** Remembers `child` until it exits, so that it is stopped on exit. */
export function track(child) {
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

/** SIGKILLs every tracked process (all that can be done in an `exit` handler). */
export function killAll() {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
  }
}

/** Stops every tracked process as `stop` does, all at once. */
export function stopAll() {
  return Promise.all([...children].map((child) => stop(child)));
}

/**
 * Stops the tracked processes when this one exits, and on SIGINT/SIGTERM
 * (then exits with 130). With `graceful`, a signal first sends each process
 * SIGTERM and waits up to 2 s before the SIGKILL.
 */
export function cleanUpOnExit({ graceful = false } = {}) {
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, async () => {
      if (graceful) await stopAll();
      killAll();
      process.exit(130);
    });
  }
}

/** Starts a process for `server` (see `serversFor`) with extra `env`, tracked. */
export function spawnServer(server, env = {}) {
  const child = track(spawn(server.cmd, server.args, {
    cwd: root,
    env: { ...process.env, ...server.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  }));
  child.stdout.setEncoding("utf8");
  return child;
}

/** Resolves with each stdout line of `child` passed to `onLine` until it returns a value. */
export function waitForLine(child, onLine, timeoutMs, what) {
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

/** Waits for a server's `READY <port>` line; resolves with the port. */
export function waitForReady(child, name) {
  return waitForLine(
    child,
    (line) => {
      const m = /^READY (\d+)/.exec(line);
      return m ? Number(m[1]) : undefined;
    },
    30000,
    `${name} to listen`,
  );
}

const CLK_TCK = 100;

/** CPU seconds (user + system) used so far by process `pid`. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime + stime
  } catch {
    return NaN;
  }
}

/** The resident set size of process `pid` in bytes (VmRSS), NaN if gone. */
export function rssBytes(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Sends SIGTERM, then SIGKILL if `child` is still there after 2 s. */
export async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
  await exited;
  clearTimeout(timer);
}

/** The median of the finite numbers in `list` (NaN if none). */
export function median(list) {
  const sorted = list.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** "Node v20…", "Deno 2…" or "Bun 1…". */
export function versionOf(runtime) {
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

/** `x` with `digits` decimals, or "—" when it is not a number. */
export const fmt = (x, digits = 0) =>
  Number.isFinite(x) ? x.toFixed(digits) : "—";

/** Resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A masked client frame (fixed key), RSV1 when `compressed`. */
export function frame(
  opcode,
  payload,
  { fin = true, compressed = false } = {},
) {
  const key = [0x12, 0x34, 0x56, 0x78];
  const len = payload.length;
  const head = [(fin ? 0x80 : 0) | (compressed ? 0x40 : 0) | opcode];
  if (len < 126) head.push(0x80 | len);
  else if (len < 65536) head.push(0x80 | 126, len >> 8, len & 255);
  else {
    head.push(0x80 | 127, 0, 0, 0, 0);
    head.push(len >>> 24, (len >>> 16) & 255, (len >>> 8) & 255, len & 255);
  }
  head.push(...key);
  const out = Buffer.alloc(head.length + len);
  out.set(head);
  for (let i = 0; i < len; i++) out[head.length + i] = payload[i] ^ key[i & 3];
  return out;
}

/**
 * Opens a raw WebSocket connection to 127.0.0.1:`port` (offering
 * permessage-deflate when `deflate`); resolves with the socket and the
 * bytes that came after the 101 head.
 */
export function openRaw(port, deflate = false) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    let head = Buffer.alloc(0);
    const onData = (data) => {
      head = Buffer.concat([head, data]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      socket.off("error", reject);
      if (!head.subarray(0, 12).toString().includes("101")) {
        reject(new Error(`handshake failed: ${head.subarray(0, 40)}`));
        return;
      }
      resolve({ socket, rest: head.subarray(end + 4) });
    };
    socket.on("data", onData);
    socket.on("error", reject);
    socket.write(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
        (deflate ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "") +
        "\r\n",
    );
  });
}
