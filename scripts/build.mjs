#!/usr/bin/env node
// Builds the npm package: compiles mod.ts, core/, adapters/ and socket/ with tsc
// (tsconfig.build.json) to `.js` + `.d.ts` in dist/ (or the directory given
// as the first argument), with relative `./x.ts` imports rewritten to
// `./x.js`. tsc rewrites them in the `.js` files; this script does the same
// in the `.d.ts` files (which tsc leaves alone), so every TypeScript version
// and tool resolves them. Exits non-zero on a type error.
//
//   node scripts/build.mjs            # → dist/
//   node scripts/build.mjs /tmp/out   # → /tmp/out (used by tests/package.test.ts)
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";
import {
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import process from "node:process";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const target = resolve(process.argv[2] ?? join(root, "dist"));
const tsc = join(root, "node_modules", ".bin", "tsc");
// dist/ is shared by everyone running `npm test` in this checkout: build it
// elsewhere (same file system) and swap it in, so no reader sees it half-built.
const swap = process.argv[2] === undefined;
const outDir = swap
  ? join(root, "node_modules", ".cache", `wskit-dist-${process.pid}`)
  : target;

rmSync(outDir, { recursive: true, force: true });
const result = spawnSync(
  tsc,
  ["-p", join(root, "tsconfig.build.json"), "--outDir", outDir],
  { cwd: root, stdio: "inherit" },
);
if (result.status !== 0) {
  if (swap) rmSync(outDir, { recursive: true, force: true });
  console.error(`build: tsc failed (${result.error ?? result.status})`);
  process.exit(1);
}

/** Every file under `dir`, as absolute paths. */
function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? walk(path) : [path];
  });
}

// `from "./x.ts"`, `import("../y.ts")`: relative specifiers ending in .ts.
const relativeTs = /(["'])(\.{1,2}\/[^"'\n]*?)\.ts\1/g;
let files = 0;
for (const file of walk(outDir)) {
  if (!file.endsWith(".d.ts") && !file.endsWith(".js")) continue;
  files++;
  const text = readFileSync(file, "utf8");
  // Only import/export lines: doc comments keep their `./mod.ts` examples.
  const fixed = text.split("\n").map((line) =>
    /^\s*(import|export)\b|\bimport\(|^\s*}\s*from\s/.test(line)
      ? line.replace(relativeTs, "$1$2.js$1")
      : line
  ).join("\n");
  if (fixed !== text) writeFileSync(file, fixed);
}
if (swap) {
  for (let attempt = 0;; attempt++) {
    rmSync(target, { recursive: true, force: true });
    try {
      renameSync(outDir, target);
      break;
    } catch (error) {
      // Another build swapped its dist/ in between: remove it and retry.
      if (attempt >= 5) throw error;
    }
  }
}
console.log(`build: ${files} files in ${target}`);
