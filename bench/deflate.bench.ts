/**
 * permessage-deflate, wskit against `ws`, in one run:
 *
 * 1. Throughput: compress one message and decompress it on the other side,
 *    for JSON-like 1 KiB and 64 KiB messages (64 different ones in
 *    rotation, so context takeover helps as it would in real traffic), with
 *    and without context takeover. wskit: the core's extension instances
 *    over `node:zlib` (synchronous, one-shot calls with a dictionary). `ws`:
 *    its `PerMessageDeflate` (callback-based zlib streams on the thread
 *    pool), measured two ways to be fair to it — one message at a time
 *    (await each round trip) and 64 connections with a message each in
 *    flight (its best case: the thread pool works in parallel while the
 *    main thread queues; wskit compresses on the calling thread). Also
 *    reported: the compressed size as a fraction of the original.
 * 2. Memory per idle compressed connection: a server in a child process
 *    (wskit's `serve()` or `ws`'s `WebSocketServer`, echoing), N clients
 *    (`ws`, permessage-deflate with context takeover) that each exchange
 *    one 2 KiB JSON message and then stay idle; the server's RSS and
 *    heap+external growth divided by N, with deflate and without. (On Bun,
 *    `import "ws"` gives Bun's own implementation, so there the `ws` rows
 *    are Bun's native server; the throughput rows load ws's
 *    `lib/permessage-deflate.js` by path on every runtime.)
 *
 *     node --expose-gc --import tsx bench/deflate.bench.ts
 *     deno run -A --v8-flags=--expose-gc bench/deflate.bench.ts
 *     bun run bench/deflate.bench.ts
 *
 * Flags: `--quick`, `--connections N` (default 500), `--no-memory`,
 * `--no-throughput`.
 *
 * @module
 */

import { Bench } from "tinybench";
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import WS, { WebSocketServer as WSServer } from "ws";
import type { Extension } from "../core/extension.ts";
import { deflate, zlibCodec } from "../adapters/deflate.ts";
import type { PerMessageDeflateOptions } from "../core/permessage_deflate.ts";
import { serve } from "../mod.ts";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const g = globalThis as {
  Deno?: { version: { deno: string } };
  Bun?: { version: string; gc(force: boolean): void };
  gc?: () => void;
};
const runtime = g.Deno ? "deno" : g.Bun ? "bun" : "node";
const runtimeLabel = g.Deno
  ? `deno ${g.Deno.version.deno}`
  : g.Bun
  ? `bun ${g.Bun.version}`
  : `node ${process.version}`;

// ---- throughput ---------------------------------------------------------------

/** JSON-like text of exactly `size` bytes (ASCII), varied by `seed`. */
function json(size: number, seed: number): Uint8Array {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const items = [];
  let out = "";
  while (out.length < size) {
    items.push({
      id: Math.floor(rnd() * 1e6),
      user: "user" + Math.floor(rnd() * 500),
      score: Number((rnd() * 100).toFixed(3)),
      tags: ["alpha", "beta", "gamma"].slice(0, 1 + Math.floor(rnd() * 3)),
      active: rnd() > 0.5,
    });
    out = JSON.stringify({ type: "update", seq: seed, items });
  }
  return new TextEncoder().encode(out.slice(0, size));
}

/** A wskit sender (server side) and receiver (client side), negotiated alike. */
function wskitPair(
  options: PerMessageDeflateOptions,
  params: [string, string | true][],
): { send: Extension; receive: Extension } {
  const negotiator = deflate({ threshold: 0, ...options });
  const send = negotiator.respond([{ name: "permessage-deflate", params }])!;
  const response = send.response.split("; ").slice(1).map((
    p,
  ): [string, string | true] => {
    const [k, v] = p.split("=");
    return [k, v ?? true];
  });
  const receive = deflate({ threshold: 0, ...options }).accept({
    name: "permessage-deflate",
    params: response,
  });
  return { send, receive };
}

// deno-lint-ignore no-explicit-any
type WsPmd = any;

/**
 * `ws`'s PerMessageDeflate class, loaded by file path: the package does not
 * export it as a subpath, and on Bun the `ws` specifier is Bun's own
 * implementation (without it).
 */
const PerMessageDeflate: new (options: object) => WsPmd = createRequire(
  import.meta.url,
)(
  fileURLToPath(
    new URL("../node_modules/ws/lib/permessage-deflate.js", import.meta.url)
      .href,
  ),
);

function wsPair(noContext: boolean): { send: WsPmd; receive: WsPmd } {
  const Pmd = PerMessageDeflate;
  const send = new Pmd({ threshold: 0, isServer: true });
  send.accept([noContext ? { server_no_context_takeover: [true] } : {}]);
  const receive = new Pmd({ threshold: 0, isServer: false });
  receive.accept([noContext ? { server_no_context_takeover: [true] } : {}]);
  return { send, receive };
}

function wsRoundTrip(pair: { send: WsPmd; receive: WsPmd }, data: Uint8Array) {
  return new Promise<Uint8Array>((resolve, reject) => {
    pair.send.compress(
      data,
      true,
      (error: Error | null, packed: Uint8Array) => {
        if (error) return reject(error);
        pair.receive.decompress(
          packed,
          true,
          (error: Error | null, out: Uint8Array) =>
            error ? reject(error) : resolve(out),
        );
      },
    );
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function throughput(): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  for (const size of [1024, 65536]) {
    const label = size === 1024 ? "1 KiB" : "64 KiB";
    const messages = Array.from({ length: 64 }, (_, i) => json(size, i + 1));
    const bench = new Bench({
      time: quick ? 150 : size === 1024 ? 1000 : 2000,
      warmupTime: quick ? 50 : 200,
    });
    const perCall = new Map<string, number>();
    const ratios = new Map<string, number>();

    const wskit = (name: string, pair: () => ReturnType<typeof wskitPair>) => {
      const task = `${label} wskit ${name}`;
      // the compressed size over one pass, with fresh state
      const probe = pair();
      let packed = 0;
      for (const m of messages) {
        const { payload, rsv } = probe.send.encode(m, 1);
        packed += payload.length;
        const back = rsv
          ? probe.receive.decode(payload, rsv, 1 << 30)
          : payload;
        if (!sameBytes(back, m)) throw new Error(`${task}: round trip failed`);
      }
      ratios.set(task, packed / (size * messages.length));
      const p = pair();
      let i = 0;
      perCall.set(task, 1);
      bench.add(task, () => {
        const m = messages[i++ & 63];
        const { payload, rsv } = p.send.encode(m, 1);
        if (rsv) p.receive.decode(payload, rsv, 1 << 30);
      });
    };
    wskit("context takeover", () => wskitPair({}, []));
    wskit(
      "context takeover, whole window",
      () => wskitPair({ contextBytes: 32768 }, []),
    );
    wskit(
      "no context takeover",
      () => wskitPair({}, [["server_no_context_takeover", true]]),
    );

    for (const noContext of [false, true]) {
      const name = noContext ? "no context takeover" : "context takeover";
      const probe = wsPair(noContext);
      let packed = 0;
      for (const m of messages) {
        const compressed = await new Promise<Uint8Array>((r) =>
          probe.send.compress(m, true, (_: unknown, d: Uint8Array) => r(d))
        );
        packed += compressed.length;
        const out = await new Promise<Uint8Array>((r) =>
          probe.receive.decompress(
            compressed,
            true,
            (_: unknown, d: Uint8Array) => r(d),
          )
        );
        if (!sameBytes(out, m)) throw new Error("ws round trip failed");
      }
      ratios.set(`${label} ws ${name}`, packed / (size * messages.length));
      ratios.set(
        `${label} ws ${name}, 64 in flight`,
        packed / (size * messages.length),
      );
      const one = wsPair(noContext);
      let i = 0;
      perCall.set(`${label} ws ${name}`, 1);
      bench.add(`${label} ws ${name}`, async () => {
        await wsRoundTrip(one, messages[i++ & 63]);
      });
      // One PerMessageDeflate per connection: ws never runs two compress
      // (or decompress) calls of one connection at once (its Sender and
      // Receiver queue them), so "in flight" means 64 connections.
      const many = messages.map(() => wsPair(noContext));
      let round = 0;
      perCall.set(`${label} ws ${name}, 64 in flight`, 64);
      bench.add(`${label} ws ${name}, 64 in flight`, async () => {
        round++;
        await Promise.all(
          many.map((pair, k) => wsRoundTrip(pair, messages[(k + round) & 63])),
        );
      });
    }

    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result;
      if (!("latency" in result)) {
        console.error(task.name, result.state);
        continue;
      }
      const us = (result.latency.p50 * 1000) / perCall.get(task.name)!;
      rows.push({
        task: task.name,
        "µs/msg": Number(us.toFixed(1)),
        "MB/s": Number((size / us).toFixed(1)),
        "size after": `${((ratios.get(task.name) ?? NaN) * 100).toFixed(1)}%`,
        "±%": Number(result.latency.rme.toFixed(1)),
      });
    }
  }
  console.log(
    "\ncompress + decompress one message (median; MB/s of plaintext):",
  );
  console.table(rows);
}

// ---- memory per idle connection ---------------------------------------------

function collect(): void {
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
}

function usage(): Record<string, number> {
  collect();
  collect();
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heap: m.heapUsed + m.external,
  };
}

/** The child: a server that echoes, answering "measure" lines on stdin. */
async function serveChild(kind: string, withDeflate: boolean): Promise<void> {
  let port: number;
  let stop: () => Promise<unknown>;
  if (kind === "wskit") {
    const server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      perMessageDeflate: withDeflate,
      onConnection(socket) {
        socket.binaryType = "uint8array";
        socket.onmessage = (event) => socket.send(event.data);
      },
    });
    port = server.port;
    stop = () => server.close();
  } else {
    const wss = new WSServer({
      host: "127.0.0.1",
      port: 0,
      perMessageDeflate: withDeflate,
    });
    await new Promise((r) => wss.once("listening", r));
    wss.on(
      "connection",
      (s) => s.on("message", (d, b) => s.send(d, { binary: b })),
    );
    port = (wss.address() as { port: number }).port;
    stop = () => new Promise((r) => wss.close(r));
  }
  console.log(JSON.stringify({ port }));
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line === "measure") console.log(JSON.stringify(usage()));
    if (line === "stop") break;
  }
  await stop();
  process.exit(0);
}

function childArgs(file: string, rest: string[]): string[] {
  if (runtime === "deno") {
    return ["run", "-A", "--v8-flags=--expose-gc", file, ...rest];
  }
  if (runtime === "bun") return ["run", file, ...rest];
  return ["--expose-gc", "--import", "tsx", file, ...rest];
}

async function memory(): Promise<void> {
  const count = argv.includes("--connections")
    ? Number(argv[argv.indexOf("--connections") + 1])
    : quick
    ? 100
    : 500;
  const file = fileURLToPath(import.meta.url);
  const message = new TextDecoder().decode(json(2048, 7));
  const rows: Record<string, string | number>[] = [];
  for (const kind of ["wskit", "ws"]) {
    for (const withDeflate of [true, false]) {
      const child: ChildProcess = spawn(
        process.execPath,
        childArgs(file, ["--serve", kind, withDeflate ? "deflate" : "plain"]),
        { stdio: ["pipe", "pipe", "inherit"] },
      );
      const lines = createInterface({ input: child.stdout! });
      const iterator = lines[Symbol.asyncIterator]();
      const next = async () => JSON.parse((await iterator.next()).value);
      const { port } = await next();
      const measure = () => {
        child.stdin!.write("measure\n");
        return next();
      };
      const before = await measure();
      const clients: WS[] = [];
      let negotiated = "";
      for (let i = 0; i < count; i += 50) {
        await Promise.all(
          Array.from({ length: Math.min(50, count - i) }, async () => {
            const ws = new WS(`ws://127.0.0.1:${port}/`, {
              perMessageDeflate: withDeflate,
            });
            clients.push(ws);
            await new Promise((r, j) => {
              ws.once("open", r);
              ws.once("error", j);
            });
            negotiated = ws.extensions;
            const echo = new Promise((r) => ws.once("message", r));
            ws.send(message);
            await echo;
          }),
        );
      }
      await new Promise((r) => setTimeout(r, 200));
      const after = await measure();
      rows.push({
        server: kind,
        deflate: withDeflate ? negotiated || "(none)" : "off",
        connections: count,
        "RSS KiB/conn": Number(
          ((after.rss - before.rss) / count / 1024).toFixed(1),
        ),
        "heap+external KiB/conn": Number(
          ((after.heap - before.heap) / count / 1024).toFixed(1),
        ),
      });
      for (const ws of clients) ws.terminate();
      child.stdin!.write("stop\n");
      await new Promise((r) => child.once("exit", r));
    }
  }
  console.log(
    "\nserver memory per idle connection (one 2 KiB JSON message each way, then idle):",
  );
  console.table(rows);
}

// ---- main ---------------------------------------------------------------------

if (argv[0] === "--serve") {
  await serveChild(argv[1], argv[2] === "deflate");
} else {
  console.log(
    `${runtimeLabel}; zlib contextTakeover: ${zlibCodec.contextTakeover}`,
  );
  if (!argv.includes("--no-throughput")) await throughput();
  if (!argv.includes("--no-memory")) await memory();
}
