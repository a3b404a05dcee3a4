/**
 * Masking throughput: naive byte loop, ws's pure-JS mask/unmask, our JS word
 * loop, the wasm SIMD kernel (with and without the copies through its
 * memory), and the public dispatchers `applyMask`/`maskInto`.
 *
 *     node --import tsx bench/mask.bench.ts
 *     deno run -A bench/mask.bench.ts
 *     bun run bench/mask.bench.ts
 *
 * Pass `--quick` for shorter runs, `--filter TEXT` to run only the tasks whose
 * name contains TEXT. Each task call processes about 256 KiB
 * (a small payload is repeated), so per-call timer overhead stays negligible;
 * the table shows GB/s (10^9 bytes per second).
 *
 * @module
 */

import { Bench } from "tinybench";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { applyMask, applyMaskJs, maskInto, maskIntoJs } from "../core/mask.ts";
import { instantiateMaskKernel } from "../core/mask_wasm.ts";

type WsMask = (
  source: Uint8Array,
  mask: Uint8Array,
  output: Uint8Array,
  offset: number,
  length: number,
) => void;
type WsUnmask = (buffer: Uint8Array, mask: Uint8Array) => void;

// ws does not export lib/buffer-util.js through "exports", so load it by path.
const require = createRequire(import.meta.url);
const wsDir = dirname(require.resolve("ws/package.json"));
const wsBuffer = require(join(wsDir, "lib", "buffer-util.js")) as {
  mask: WsMask;
  unmask: WsUnmask;
};

const argv = (globalThis as { process?: { argv: string[] } }).process?.argv ??
  [];
const quick = argv.includes("--quick");
/** `--filter TEXT` keeps only the tasks whose name contains TEXT. */
const filter = argv.includes("--filter")
  ? argv[argv.indexOf("--filter") + 1]
  : "";

const key = new Uint8Array([0x6d, 0xb6, 0xb2, 0x80]);
const kernel = instantiateMaskKernel();
const kernelWord = key[0] | key[1] << 8 | key[2] << 16 | key[3] << 24;

function naiveUnmask(data: Uint8Array, mask: Uint8Array): void {
  for (let i = 0; i < data.length; i++) data[i] ^= mask[i & 3];
}

function naiveMask(
  source: Uint8Array,
  target: Uint8Array,
  mask: Uint8Array,
): void {
  for (let i = 0; i < source.length; i++) target[i] = source[i] ^ mask[i & 3];
}

const SIZES: [string, number][] = [
  ["16 B", 16],
  ["125 B", 125],
  ["1 KiB", 1024],
  ["4 KiB", 4096],
  ["64 KiB", 65536],
  ["1 MiB", 1 << 20],
];

const bench = new Bench({
  time: quick ? 100 : 400,
  warmupTime: quick ? 30 : 100,
});
/** Bytes processed by one call of each task. */
const bytesPerCall = new Map<string, number>();

function add(name: string, size: number, fn: () => void): void {
  bytesPerCall.set(name, size * repeats(size));
  if (!name.includes(filter)) return;
  bench.add(name, fn);
}

function repeats(size: number): number {
  return Math.max(1, Math.ceil((256 * 1024) / size));
}

for (const [label, size] of SIZES) {
  const data = new Uint8Array(size).map((_, i) => i * 31);
  const target = new Uint8Array(size);
  const n = repeats(size);
  add(`unmask ${label} naive loop`, size, () => {
    for (let r = 0; r < n; r++) naiveUnmask(data, key);
  });
  add(`unmask ${label} ws unmask`, size, () => {
    for (let r = 0; r < n; r++) wsBuffer.unmask(data, key);
  });
  add(`unmask ${label} applyMaskJs`, size, () => {
    for (let r = 0; r < n; r++) applyMaskJs(data, key);
  });
  if (kernel !== null && size <= 65536) {
    const mem = kernel.memory;
    const rounded = (size + 63) & ~63;
    add(`unmask ${label} wasm xor only`, size, () => {
      for (let r = 0; r < n; r++) kernel.xor(rounded, kernelWord);
    });
    add(`unmask ${label} wasm copy+xor+copy`, size, () => {
      for (let r = 0; r < n; r++) {
        mem.set(data);
        kernel.xor(rounded, kernelWord);
        data.set(mem.subarray(0, size));
      }
    });
  }
  add(`unmask ${label} applyMask`, size, () => {
    for (let r = 0; r < n; r++) applyMask(data, key);
  });
  add(`mask   ${label} naive loop`, size, () => {
    for (let r = 0; r < n; r++) naiveMask(data, target, key);
  });
  add(`mask   ${label} ws mask`, size, () => {
    for (let r = 0; r < n; r++) wsBuffer.mask(data, key, target, 0, size);
  });
  add(`mask   ${label} maskIntoJs`, size, () => {
    for (let r = 0; r < n; r++) maskIntoJs(data, target, 0, key);
  });
  add(`mask   ${label} maskInto`, size, () => {
    for (let r = 0; r < n; r++) maskInto(data, target, 0, key);
  });
}

// One unaligned case: a payload that starts 2 bytes into its buffer, as after
// a frame header.
{
  const size = 65536;
  const buffer = new Uint8Array(size + 16);
  const data = buffer.subarray(2, 2 + size);
  const target = new Uint8Array(size + 16);
  const n = repeats(size);
  add("unmask 64 KiB @+2 applyMaskJs", size, () => {
    for (let r = 0; r < n; r++) applyMaskJs(data, key);
  });
  add("unmask 64 KiB @+2 applyMask", size, () => {
    for (let r = 0; r < n; r++) applyMask(data, key);
  });
  add("mask   64 KiB @+2→+7 maskIntoJs", size, () => {
    for (let r = 0; r < n; r++) maskIntoJs(data, target, 7, key);
  });
  add("mask   64 KiB @+2→+7 maskInto", size, () => {
    for (let r = 0; r < n; r++) maskInto(data, target, 7, key);
  });
}

await bench.run();

const rows = bench.tasks.map((task) => {
  const result = task.result;
  const ms = "latency" in result ? result.latency.p50 : NaN;
  const bytes = bytesPerCall.get(task.name) ?? 0;
  return {
    task: task.name,
    "GB/s": Number((bytes / (ms / 1000) / 1e9).toFixed(2)),
    "±%": "latency" in result ? Number(result.latency.rme.toFixed(1)) : NaN,
  };
});
console.log(
  `wasm SIMD kernel: ${kernel === null ? "unavailable" : "available"}; ` +
    `${bench.runtime} ${bench.runtimeVersion}`,
);
console.table(rows);
