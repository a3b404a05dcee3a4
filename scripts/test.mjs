#!/usr/bin/env node
// Runs the whole suite: style, lint and types, then tests/ on Node (under c8),
// Deno and Bun. Prints each runner's output, then one summed closing line
// `N passed, N failed`. Exits non-zero if any step fails.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { readdirSync, readFileSync } from "node:fs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const only = process.argv.slice(2);
// Node 20's test runner does not expand globs: list the files here.
const testFiles = ["tests", "tests/conformance"].flatMap((dir) =>
  readdirSync(join(root, dir))
    .filter((f) => f.endsWith(".test.ts"))
    .sort()
    .map((f) => `${dir}/${f}`)
);
// The JSR entry points, as deno.json's `exports` lists them.
const entryPoints = Object.values(
  JSON.parse(readFileSync(join(root, "deno.json"), "utf8")).exports,
);
// deno-lint-ignore no-control-regex
const stripAnsi = (text) => text.replace(/\x1b\[[0-9;]*m/g, "");

/** Runs a command, mirroring its output, and resolves with code and text. */
function run(cmd, args, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    const take = (stream, sink) =>
      stream.on("data", (d) => {
        text += d;
        sink.write(d);
      });
    take(child.stdout, process.stdout);
    take(child.stderr, process.stderr);
    child.on(
      "close",
      (code, signal) => resolve({ code: code ?? 1, signal, text }),
    );
  });
}

const lastNumber = (text, re) => {
  const all = [...text.matchAll(re)];
  return all.length ? Number(all[all.length - 1][1]) : 0;
};

/** @type {{name: string, cmd: string, args: string[], env?: Record<string, string>, count?: (t: string) => {passed: number, failed: number}}[]} */
const steps = [
  {
    name: "fmt",
    cmd: bin("deno"),
    args: ["fmt", "--check"],
  },
  { name: "lint", cmd: bin("deno"), args: ["lint"] },
  {
    name: "deno check",
    cmd: bin("deno"),
    args: [
      "check",
      "mod.ts",
      "core/",
      "adapters/",
      "socket/",
      "examples/",
      "tests/",
      "bench/",
      "scripts/",
    ],
  },
  { name: "tsc", cmd: bin("tsc"), args: ["--noEmit", "-p", "tsconfig.json"] },
  // Packaging gates: JSR docs ("no slow types", JSDoc on every export), then
  // the npm build in dist/ checked by publint and attw (which packs it; the
  // build step already ran, so `prepack` is skipped).
  {
    name: "deno doc",
    cmd: bin("deno"),
    args: ["doc", "--lint", ...entryPoints],
  },
  { name: "build", cmd: process.execPath, args: ["scripts/build.mjs"] },
  { name: "publint", cmd: bin("publint"), args: ["--strict"] },
  {
    name: "attw",
    cmd: bin("attw"),
    args: [
      "--pack",
      ".",
      "--profile",
      "esm-only",
      "--no-definitely-typed",
      "--no-emoji",
      "--no-color",
    ],
    env: { npm_config_ignore_scripts: "true" },
  },
  {
    name: "node",
    cmd: bin("c8"),
    args: [
      "--include=core/**",
      "--include=adapters/**",
      "--include=socket/**",
      "--include=mod.ts",
      "--reporter=text",
      "--reporter=text-summary",
      process.execPath,
      "--experimental-websocket",
      "--import",
      "tsx",
      "--test",
      "--test-concurrency=1",
      ...testFiles,
    ],
    count: (t) => ({
      passed: lastNumber(t, /^# pass (\d+)/gm),
      failed: lastNumber(t, /^# fail (\d+)/gm) +
        lastNumber(t, /^# cancelled (\d+)/gm),
    }),
  },
  {
    name: "core coverage >= 95%",
    cmd: bin("c8"),
    args: ["check-coverage", "--lines", "95", "--include=core/**"],
  },
  {
    name: "deno",
    cmd: bin("deno"),
    args: ["test", "-A", "--no-check", "tests/"],
    count: (t) => ({
      passed: lastNumber(t, /(\d+) passed/g),
      failed: lastNumber(t, /(\d+) failed/g),
    }),
  },
  {
    name: "bun",
    cmd: bin("bun"),
    args: ["test", "--timeout", "60000", "tests/"],
    count: (t) => ({
      passed: lastNumber(t, /^\s*(\d+) pass$/gm),
      failed: lastNumber(t, /^\s*(\d+) fail$/gm),
    }),
  },
];

let passed = 0;
let failed = 0;
const broken = [];
for (const step of steps) {
  if (only.length && !only.includes(step.name)) continue;
  console.log(`\n=== ${step.name} ===`);
  const { code, text: raw } = await run(step.cmd, step.args, step.env);
  const text = stripAnsi(raw);
  if (step.count) {
    const c = step.count(text);
    console.log(`--- ${step.name}: ${c.passed} passed, ${c.failed} failed`);
    passed += c.passed;
    failed += c.failed;
    if (code !== 0 && c.failed === 0) failed += 1; // a crash counts as a failure
  }
  if (code !== 0) broken.push(step.name);
}
if (broken.length) console.log(`\nfailing steps: ${broken.join(", ")}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(broken.length ? 1 : 0);
