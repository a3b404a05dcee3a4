/**
 * UTF-8 validation throughput: `isValidUtf8`, `Utf8Validator.push` (whole and
 * in 1 KiB pieces), a fatal `TextDecoder` (which also builds the string), and
 * the runtime's native `isUtf8` from `node:buffer` (what ws uses), over text
 * that is ASCII, mostly ASCII, 2-, 3- and 4-byte heavy.
 *
 *     node --import tsx bench/utf8.bench.ts
 *     deno run -A bench/utf8.bench.ts
 *     bun run bench/utf8.bench.ts
 *
 * Pass `--quick` for shorter runs, `--filter TEXT` to run only the tasks whose
 * name contains TEXT. Each task call processes about 256 KiB (a
 * small payload is repeated); the table shows GB/s (10^9 bytes per second).
 *
 * @module
 */

import { Bench } from "tinybench";
import * as nodeBuffer from "node:buffer";
import { isValidUtf8, Utf8Validator } from "../core/utf8.ts";

const argv = (globalThis as { process?: { argv: string[] } }).process?.argv ??
  [];
const quick = argv.includes("--quick");
/** `--filter TEXT` keeps only the tasks whose name contains TEXT. */
const filter = argv.includes("--filter")
  ? argv[argv.indexOf("--filter") + 1]
  : "";

const isUtf8 =
  (nodeBuffer as { isUtf8?: (input: Uint8Array) => boolean }).isUtf8;

const SAMPLES: [string, string][] = [
  [
    "ascii",
    'The quick brown fox jumps over the lazy dog; {"id":42,"ok":true} ',
  ],
  ["latin", "Le cœur déçu mais l'âme plutôt naïve, Louÿs rêva de crapaüter. "],
  [
    "greek",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Съешь же ещё этих мягких булок. ",
  ],
  ["cjk", "日本語のテキストは三バイトで符号化されます。漢字と仮名。"],
  ["emoji", "😀🎉🚀💡🔥✨👍🌍"],
];
const SIZES: [string, number][] = [
  ["125 B", 125],
  ["1 KiB", 1024],
  ["64 KiB", 65536],
];

/** `size` bytes or a little less, cut on a character boundary. */
function payload(sample: string, size: number): Uint8Array {
  const bytes = new TextEncoder().encode(
    sample.repeat(Math.ceil(size / sample.length) + 1),
  );
  let end = size;
  while ((bytes[end] & 0xc0) === 0x80) end--;
  return bytes.slice(0, end);
}

const bench = new Bench({
  time: quick ? 100 : 400,
  warmupTime: quick ? 30 : 100,
});
const bytesPerCall = new Map<string, number>();
const decoder = new TextDecoder("utf-8", { fatal: true });
let sink = 0;

for (const [label, size] of SIZES) {
  for (const [kind, sample] of SAMPLES) {
    const data = payload(sample, size);
    if (!isValidUtf8(data)) throw new Error(`bad sample ${kind}`);
    const n = Math.max(1, Math.ceil((256 * 1024) / data.length));
    const add = (impl: string, fn: () => void): void => {
      const name = `${label.padEnd(6)} ${kind.padEnd(5)} ${impl}`;
      bytesPerCall.set(name, data.length * n);
      if (!name.includes(filter)) return;
      bench.add(name, fn);
    };
    add("isValidUtf8", () => {
      for (let r = 0; r < n; r++) sink += isValidUtf8(data) ? 1 : 0;
    });
    const v = new Utf8Validator();
    add("Utf8Validator.push", () => {
      for (let r = 0; r < n; r++) {
        v.reset();
        sink += v.push(data) && v.complete ? 1 : 0;
      }
    });
    if (size > 1024) {
      add("Utf8Validator.push 1 KiB pieces", () => {
        for (let r = 0; r < n; r++) {
          v.reset();
          for (let i = 0; i < data.length; i += 1024) {
            v.push(data, i, Math.min(i + 1024, data.length));
          }
          sink += v.complete ? 1 : 0;
        }
      });
    }
    add("TextDecoder fatal", () => {
      for (let r = 0; r < n; r++) sink += decoder.decode(data).length;
    });
    if (isUtf8 !== undefined) {
      add("node:buffer isUtf8 (native)", () => {
        for (let r = 0; r < n; r++) sink += isUtf8(data) ? 1 : 0;
      });
    }
  }
}

await bench.run();

const rows = bench.tasks.map((task) => {
  const result = task.result;
  const ms = "latency" in result ? result.latency.p50 : NaN;
  return {
    task: task.name,
    "GB/s": Number(
      ((bytesPerCall.get(task.name) ?? 0) / (ms / 1000) / 1e9).toFixed(2),
    ),
    "±%": "latency" in result ? Number(result.latency.rme.toFixed(1)) : NaN,
  };
});
console.log(`${bench.runtime} ${bench.runtimeVersion} (checksum ${sink > 0})`);
console.table(rows);
