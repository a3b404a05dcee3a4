/**
 * The npm package as a user gets it: built by scripts/build.mjs (what
 * `prepack` runs), packed with `npm pack`, installed from the tarball into a
 * scratch project with `npm install --offline`, then
 * - run: a client↔server program importing `wskit`, `wskit/core` and the
 *   adapter subpaths, run by the runtime running this test (node, deno run,
 *   bun run) from the scratch project;
 * - type-checked: a strict TypeScript consumer (`skipLibCheck: false`)
 *   compiled against the shipped `.d.ts` files.
 *
 * The package is built in a staging directory (never in the shared dist/)
 * and the tarball is cached in the OS temp directory, keyed by a hash of
 * every file that goes into it, so the Node, Deno and Bun runs build once.
 * Needs `node` and `npm` on PATH; no network.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const g = globalThis as { Deno?: unknown; Bun?: unknown };
const runtime = g.Deno ? "deno" : g.Bun ? "bun" : "node";
/** Under Deno and Bun, `process.execPath` is not node: use the one on PATH. */
const node = runtime === "node" ? process.execPath : "node";
const TIMEOUT = 60_000;

/** Runs a command; resolves with its exit code and combined output. */
function run(
  cmd: string,
  args: string[],
  cwd: string,
  timeout = 30_000,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const take = (d: Uint8Array) => output += new TextDecoder().decode(d);
    child.stdout!.on("data", take);
    child.stderr!.on("data", take);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeout);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Like `run`, but fails the test unless the command exits 0. */
async function must(cmd: string, args: string[], cwd: string): Promise<string> {
  const { code, output } = await run(cmd, args, cwd);
  assert.equal(code, 0, `${cmd} ${args.join(" ")} failed:\n${output}`);
  return output;
}

/** Files under `dir` (relative to the repo root), sorted. */
function walk(dir: string): string[] {
  if (!existsSync(join(root, dir))) return [];
  return readdirSync(join(root, dir), { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]
    )
    .sort();
}

/** A hash of everything that goes into the package. */
function sourceHash(): string {
  const hash = createHash("sha256");
  const files = [
    "package.json",
    "README.md",
    "LICENSE",
    "tsconfig.json",
    "tsconfig.build.json",
    "scripts/build.mjs",
    "mod.ts",
    "node.ts",
    "deno.ts",
    "bun.ts",
    "streams.ts",
    ...walk("core"),
    ...walk("adapters"),
    ...walk("socket"),
  ];
  for (const file of files) {
    hash.update(`${file}\0`);
    if (existsSync(join(root, file))) {
      hash.update(readFileSync(join(root, file)));
    }
  }
  return hash.digest("hex").slice(0, 16);
}

/**
 * Builds and packs the package (or reuses the cached tarball for the same
 * sources) and resolves with the tarball's path.
 */
async function packedTarball(): Promise<string> {
  const cache = join(tmpdir(), "wskit-package-test");
  const key = sourceHash();
  const done = join(cache, key);
  const find = () => readdirSync(done).find((f) => f.endsWith(".tgz"));
  if (existsSync(done) && find()) return join(done, find()!);
  mkdirSync(cache, { recursive: true });
  // Forget tarballs of sources older than a day.
  for (const old of readdirSync(cache)) {
    const path = join(cache, old);
    if (Date.now() - statSync(path).mtimeMs > 86_400_000) {
      rmSync(path, { recursive: true, force: true });
    }
  }
  // What `npm pack` would see in the repo after `prepack`, in a staging
  // directory, so that the shared dist/ is never touched.
  const work = mkdtempSync(join(cache, `build-${key}-`));
  try {
    const stage = join(work, "stage");
    mkdirSync(stage);
    for (const file of ["package.json", "README.md", "LICENSE"]) {
      cpSync(join(root, file), join(stage, file));
    }
    await must(node, ["scripts/build.mjs", join(stage, "dist")], root);
    const out = join(work, "out");
    mkdirSync(out);
    await must(
      "npm",
      ["pack", "--ignore-scripts", "--silent", "--pack-destination", out],
      stage,
    );
    try {
      renameSync(out, done);
    } catch {
      // Another run cached the same sources first: use theirs.
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return join(done, find()!);
}

/** A scratch project with the tarball installed; resolves with its path. */
async function scratchProject(tarball: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "wskit-consumer-"));
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  await must(
    "npm",
    ["install", "--offline", "--no-audit", "--no-fund", "--silent", tarball],
    dir,
  );
  return dir;
}

const PROGRAM = `
import process from "node:process";
import { computeAccept, serve, WebSocket } from "wskit";
import { Connection } from "wskit/core";
import { nodeRuntime } from "wskit/node";
import { denoRuntime } from "wskit/deno";
import { bunRuntime } from "wskit/bun";
import * as streams from "wskit/streams";

const guard = setTimeout(() => {
  console.error("timed out");
  process.exit(2);
}, 20000);
console.log(\`accept: \${computeAccept("dGhlIHNhbXBsZSBub25jZQ==")}\`);
console.log(\`core: \${typeof Connection.client}\`);
console.log(\`adapters: \${nodeRuntime.name} \${denoRuntime.name} \${bunRuntime.name}\`);
console.log(\`streams: \${Object.keys(streams).length > 0}\`);

const server = await serve({
  hostname: "127.0.0.1",
  port: 0,
  protocols: ["chat"],
  onConnection(socket) {
    socket.onmessage = (event) => socket.send(event.data);
  },
});
const ws = new WebSocket("ws://127.0.0.1:" + server.port, ["chat"]);
ws.onopen = () => ws.send("hello from the package");
ws.onmessage = (event) => {
  console.log(\`echo: \${typeof event.data} \${event.data} \${ws.protocol}\`);
  ws.close(1000, "done");
};
ws.onclose = async (event) => {
  console.log(\`closed: \${event.code} \${event.reason} \${event.wasClean}\`);
  await server.close();
  clearTimeout(guard);
};
`;

test(
  "package: the installed npm tarball runs a client↔server echo on this runtime",
  {
    timeout: TIMEOUT,
  },
  async () => {
    const dir = await scratchProject(await packedTarball());
    try {
      const pkg = JSON.parse(
        readFileSync(join(dir, "node_modules/wskit/package.json"), "utf8"),
      );
      assert.equal(pkg.name, "wskit");
      // Only the build, the README and the license are published.
      const shipped = readdirSync(join(dir, "node_modules/wskit")).sort();
      assert.deepEqual(shipped, [
        "LICENSE",
        "README.md",
        "dist",
        "package.json",
      ]);
      writeFileSync(join(dir, "main.mjs"), PROGRAM);
      const args = runtime === "deno"
        ? ["run", "-A", "main.mjs"]
        : runtime === "bun"
        ? ["run", "main.mjs"]
        : ["main.mjs"];
      const { code, output } = await run(process.execPath, args, dir);
      assert.equal(code, 0, `${runtime} ${args.join(" ")} failed:\n${output}`);
      const lines = output.trim().split("\n");
      assert.deepEqual(lines, [
        "accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        "core: function",
        "adapters: node deno bun",
        "streams: true",
        "echo: string hello from the package chat",
        "closed: 1000 done true",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

const CONSUMER = `
import {
  type CloseEvent,
  serve,
  WebSocket,
  type WebSocketOptions,
  WebSocketServer,
} from "wskit";
import { Connection, type ConnectionEvent } from "wskit/core";
import { attach, nodeRuntime } from "wskit/node";
import { denoRuntime } from "wskit/deno";
import type { Runtime } from "wskit";

const options: WebSocketOptions = { headers: { "x-token": "t" } };
const ws: WebSocket = new WebSocket("ws://127.0.0.1:1", ["chat"], options);
ws.onclose = (event) => console.log((event as CloseEvent).code);
const server: Promise<WebSocketServer> = serve({ port: 0 });
const events: readonly ConnectionEvent[] = Connection.client("ws://x.test/").receive(
  new Uint8Array(0),
);
const runtimes: Runtime[] = [nodeRuntime, denoRuntime];
export { attach, events, runtimes, server };
`;

/** Uses only what works in a browser: no Node, Deno or Bun types needed. */
const PORTABLE = `
import { computeAccept, WebSocket } from "wskit";
import { Connection } from "wskit/core";
import * as streams from "wskit/streams";

const ws = new WebSocket("wss://example.test/", [], { connectTimeout: 1000 });
ws.binaryType = "arraybuffer";
export const accept: string = computeAccept("dGhlIHNhbXBsZSBub25jZQ==");
export const conn: Connection = Connection.client("ws://example.test/");
export { streams, ws };
`;

/** A strict tsconfig (`skipLibCheck: false`) for one file. */
function strictConfig(file: string, types: string[], dir: string): string {
  return JSON.stringify({
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      lib: ["ES2022", "DOM"],
      // @types/node from this repo, if asked for; never bun-types or Deno's.
      typeRoots: [relative(dir, join(root, "node_modules/@types"))],
      types,
      strict: true,
      noEmit: true,
      skipLibCheck: false,
    },
    files: [file],
  });
}

// "wskit/bun" is left out: its .d.ts names the `Bun` namespace, so it needs
// bun-types (which Bun users have).
test("package: the shipped .d.ts files type-check in strict consumers", {
  timeout: TIMEOUT,
}, async () => {
  const dir = await scratchProject(await packedTarball());
  try {
    const tsc = join(root, "node_modules/.bin/tsc");
    // A Node.js program using the adapters, with @types/node.
    writeFileSync(join(dir, "consumer.ts"), CONSUMER);
    writeFileSync(
      join(dir, "tsconfig.json"),
      strictConfig("consumer.ts", ["node"], dir),
    );
    await must(tsc, ["-p", "tsconfig.json"], dir);
    // "wskit" and "wskit/core" with no runtime's types at all.
    writeFileSync(join(dir, "portable.ts"), PORTABLE);
    writeFileSync(
      join(dir, "tsconfig.portable.json"),
      strictConfig("portable.ts", [], dir),
    );
    await must(tsc, ["-p", "tsconfig.portable.json"], dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
