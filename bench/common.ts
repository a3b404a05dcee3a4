/**
 * Shared plumbing for the micro suites in `bench/`: command-line flags, the
 * runtime's name and version, loading `ws` with or without `bufferutil`,
 * building masked frames, and printing one table per suite.
 *
 * `ws` decides at load time whether to use the `bufferutil` addon (unless
 * `WS_NO_BUFFER_UTIL` is set), so a suite measures `ws` without it in a child
 * process: {@linkcode runWsChild} re-runs the same script with
 * `WS_NO_BUFFER_UTIL=1 --ws-only --json` and merges the child's numbers into
 * the parent's table. wskit against `ws` with `bufferutil` runs in one
 * process, tasks alternating, so those ratios come from the same run.
 *
 * @module
 */

import { Bench } from "tinybench";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const g = globalThis as {
  Deno?: { version: { deno: string }; execPath(): string };
  Bun?: { version: string };
  process?: {
    argv: string[];
    env: Record<string, string | undefined>;
    version: string;
    execPath: string;
    execArgv: string[];
  };
};

/** Command-line arguments after the script. */
export const argv: string[] = g.process?.argv.slice(2) ?? [];
/** `--quick`: shorter runs, for smoke tests. */
export const quick: boolean = argv.includes("--quick");
/** `--filter TEXT`: keep only the tasks whose name contains TEXT. */
export const filter: string = argv.includes("--filter")
  ? argv[argv.indexOf("--filter") + 1]
  : "";
/** `--ws-only`: run only the `ws` tasks (a child process mode). */
export const wsOnly: boolean = argv.includes("--ws-only");
/** `--decoder-only`: run only the bare-decoder tasks (a child process mode). */
export const decoderOnly: boolean = argv.includes("--decoder-only");
/** `--json`: print `{ task: ns per op }` as JSON instead of a table. */
export const jsonOutput: boolean = argv.includes("--json");

/** "node", "deno" or "bun". */
export const runtime: "node" | "deno" | "bun" = g.Deno !== undefined
  ? "deno"
  : g.Bun !== undefined
  ? "bun"
  : "node";

/** The runtime and its version, e.g. "node v20.20.2". */
export const runtimeLabel: string = runtime === "deno"
  ? `deno ${g.Deno!.version.deno}`
  : runtime === "bun"
  ? `bun ${g.Bun!.version}`
  : `node ${g.process!.version}`;

const require = createRequire(import.meta.url);

/** The parts of `ws` the suites use. */
export interface Ws {
  // deno-lint-ignore no-explicit-any
  Receiver: new (options: Record<string, unknown>) => any;
  // deno-lint-ignore no-explicit-any
  Sender: (new (socket: unknown) => any) & {
    frame(data: unknown, options: Record<string, unknown>): Uint8Array[];
  };
  /** Whether `ws` loaded the `bufferutil` native addon. */
  bufferutil: boolean;
  /** How the tasks are labelled: "ws+bufferutil" or "ws". */
  label: string;
}

/**
 * Loads `ws`'s receiver and sender (which pick up `bufferutil` unless
 * `WS_NO_BUFFER_UTIL` is set) from its files: Bun answers `require("ws")`
 * with its own stand-in, which has no `Receiver` or `Sender`.
 */
export function loadWs(): Ws {
  const dir = dirname(require.resolve("ws/package.json"));
  const ws = {
    Receiver: require(join(dir, "lib", "receiver.js")),
    Sender: require(join(dir, "lib", "sender.js")),
  };
  let bufferutil = false;
  if (!g.process?.env.WS_NO_BUFFER_UTIL) {
    try {
      require("bufferutil");
      bufferutil = true;
    } catch {
      // not installed: ws uses its JS loops
    }
  }
  return {
    Receiver: ws.Receiver,
    Sender: ws.Sender,
    bufferutil,
    label: bufferutil ? "ws+bufferutil" : "ws",
  };
}

/** `--rounds N`: run every task N times, interleaved, and keep the median. */
export const rounds: number = argv.includes("--rounds")
  ? Number(argv[argv.indexOf("--rounds") + 1])
  : quick
  ? 1
  : 3;

/** `--time MS`: how long each task runs per round (default 250). */
export const taskTime: number = argv.includes("--time")
  ? Number(argv[argv.indexOf("--time") + 1])
  : 250;

/**
 * A list of tasks measured in rounds: each round is a fresh tinybench run of
 * every task, one after the other, so competitors alternate (A B A B ...)
 * and a burst of noise from elsewhere on the machine hits one round, not one
 * task. The result for a task is its median over the rounds of tinybench's
 * median time per call, divided by the operations one call performs.
 */
export class Suite {
  readonly #tasks: { name: string; ops: number; fn: () => void }[] = [];

  /** Adds a task unless `--filter` excludes it; one call does `ops` operations. */
  add(name: string, ops: number, fn: () => void): void {
    if (name.includes(filter)) this.#tasks.push({ name, ops, fn });
  }

  /** Runs all rounds; returns nanoseconds per operation by task name. */
  async run(): Promise<Map<string, number>> {
    const samples = new Map<string, number[]>();
    for (let round = 0; round < rounds; round++) {
      const bench = new Bench({
        time: quick ? 60 : taskTime,
        warmupTime: quick ? 20 : 100,
      });
      for (const task of this.#tasks) bench.add(task.name, task.fn);
      await bench.run();
      for (const [i, task] of bench.tasks.entries()) {
        const result = task.result;
        if (!("latency" in result)) {
          const error = "error" in result ? result.error : "";
          console.error(`${task.name}: ${result.state}`, error);
          continue;
        }
        const ns = (result.latency.p50 * 1e6) / this.#tasks[i].ops;
        const list = samples.get(task.name) ?? [];
        list.push(ns);
        samples.set(task.name, list);
      }
    }
    const out = new Map<string, number>();
    for (const [name, list] of samples) {
      list.sort((a, b) => a - b);
      out.set(name, list[list.length >> 1]);
    }
    return out;
  }
}

/**
 * Runs this script again in a child process on the same runtime, with
 * `flag` (e.g. `--ws-only`), `--json` and this run's other arguments, and
 * `env` added to the environment; returns the child's ns-per-op map, or an
 * empty map (with a warning) if it fails.
 */
export function runChild(
  script: string,
  flag: string,
  env: Record<string, string> = {},
): Map<string, number> {
  const file = script.startsWith("file:") ? fileURLToPath(script) : script;
  const extra = [flag, "--json", ...argv.filter((a) => a !== "--json")];
  const command = runtime === "deno"
    ? [g.Deno!.execPath(), "run", "-A", file]
    : runtime === "bun"
    ? [g.process!.execPath, "run", file]
    : [g.process!.execPath, ...g.process!.execArgv, file];
  const child = spawnSync(command[0], [...command.slice(1), ...extra], {
    env: { ...g.process!.env, ...env },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 16 * 1024 * 1024,
  });
  if (child.status !== 0) {
    console.error(`${flag}: child exited with ${child.status}`);
    return new Map();
  }
  const lines = child.stdout.trim().split("\n");
  return new Map(Object.entries(JSON.parse(lines[lines.length - 1])));
}

/** `ws` without `bufferutil`: {@linkcode runChild} with `--ws-only`. */
export function runWsChild(script: string): Map<string, number> {
  return runChild(script, "--ws-only", { WS_NO_BUFFER_UTIL: "1" });
}

/** Prints the child-mode JSON line. */
export function printJson(results: Map<string, number>): void {
  console.log(JSON.stringify(Object.fromEntries(results)));
}

/** A masking key whose bytes are all below 0x80, so masked ASCII stays ASCII. */
export const ASCII_SAFE_KEY: Uint8Array = new Uint8Array([
  0x37,
  0x1a,
  0x21,
  0x3d,
]);

/**
 * One frame (FIN set) with `payload` masked by `key`, or unmasked when `key`
 * is undefined.
 */
export function buildFrame(
  opcode: number,
  payload: Uint8Array,
  key?: Uint8Array,
): Uint8Array {
  const length = payload.length;
  const extended = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const header = 2 + extended + (key ? 4 : 0);
  const out = new Uint8Array(header + length);
  out[0] = 0x80 | opcode;
  out[1] = (key ? 0x80 : 0) |
    (extended === 0 ? length : extended === 2 ? 126 : 127);
  if (extended === 2) {
    out[2] = length >>> 8;
    out[3] = length & 0xff;
  } else if (extended === 8) {
    new DataView(out.buffer).setUint32(6, length);
  }
  if (key) {
    out.set(key, 2 + extended);
    for (let i = 0; i < length; i++) {
      out[header + i] = payload[i] ^ key[i & 3];
    }
  } else {
    out.set(payload, header);
  }
  return out;
}

/** `count` copies of `frame`, back to back in one array. */
export function repeatFrame(frame: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(frame.length * count);
  for (let i = 0; i < count; i++) out.set(frame, i * frame.length);
  return out;
}

/** Formats a number of nanoseconds for a table. */
export function formatNs(ns: number | undefined): string {
  if (ns === undefined || !Number.isFinite(ns)) return "—";
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e4) return `${(ns / 1e3).toFixed(1)} µs`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(ns < 10 ? 1 : 0)} ns`;
}

/** `a / b` as "1.23×", or "—". */
export function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !(a > 0) || !(b > 0)) return "—";
  return `${(a / b).toFixed(2)}×`;
}
