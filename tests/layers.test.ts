/**
 * The layers' import arrows point down: `core/` imports only itself and no
 * runtime, `adapters/` (byte pipes) never imports the socket layer or an
 * entry file, and `socket/` uses only the `adapters/transport.ts` types.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ENTRY_FILES = ["mod.ts", "node.ts", "deno.ts", "bun.ts", "streams.ts"];
/**
 * The one known runtime name in core/ today: `core/mask_wasm.ts` looks up
 * `WebAssembly` through `globalThis` (it falls back to plain JS without it).
 * Issue 13 leaves core/ unchanged in step 1; removing it is a later step.
 */
const KNOWN: Record<string, string> = { "core/mask_wasm.ts": "globalThis" };

/** Every .ts file under `dir` (relative to the root, with `/`). */
function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...tsFiles(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** The source with comments blanked (string literals kept). */
function stripComments(source: string): string {
  return source.replace(
    /\/\*[\s\S]*?\*\/|\/\/[^\n]*|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\[\s\S])*`)/g,
    (_match: string, literal: string | undefined) =>
      literal === undefined ? " " : literal,
  );
}

/** The specifiers of `import`/`export ... from` and bare `import "..."`. */
function specifiers(source: string): string[] {
  const code = stripComments(source);
  const out: string[] = [];
  const re =
    /\b(?:import|export)\b[^;"'`]*?\bfrom\s*["']([^"']+)["']|\bimport\s*(?:\(\s*)?["']([^"']+)["']/g;
  for (const m of code.matchAll(re)) out.push(m[1] ?? m[2]);
  return out;
}

/** Where a relative specifier of `file` points, relative to the root. */
function target(file: string, spec: string): string {
  if (!spec.startsWith(".")) return spec;
  return relative(ROOT, resolve(ROOT, dirname(file), spec)).split("\\")
    .join("/");
}

/** The broken rules: `file -> specifier` for each arrow not allowed. */
function violations(files: Record<string, string>): string[] {
  const bad: string[] = [];
  for (const [file, source] of Object.entries(files)) {
    for (const spec of specifiers(source)) {
      const to = target(file, spec);
      const arrow = `${file} -> ${spec}`;
      if (file.startsWith("core/")) {
        if (!to.startsWith("core/")) bad.push(arrow);
      } else if (file.startsWith("adapters/")) {
        if (to.startsWith("socket/") || ENTRY_FILES.includes(to)) {
          bad.push(arrow);
        }
      } else if (file.startsWith("socket/")) {
        if (
          ENTRY_FILES.includes(to) ||
          (to.startsWith("adapters/") && to !== "adapters/transport.ts")
        ) {
          bad.push(arrow);
        }
      }
    }
    if (file.startsWith("core/")) {
      const code = stripComments(source).replace(
        /"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g,
        '""',
      );
      const re = /\b(?:Deno|Bun|process|setTimeout|setInterval|globalThis)\b/g;
      for (const m of code.matchAll(re)) {
        if (KNOWN[file] !== m[0]) bad.push(`${file} uses ${m[0]}`);
      }
    }
  }
  return bad;
}

function readLayers(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const dir of ["core", "adapters", "socket"]) {
    for (const file of tsFiles(dir)) {
      files[file] = readFileSync(join(ROOT, file), "utf8");
    }
  }
  return files;
}

describe("layers", () => {
  test("the tree's import arrows all point down", () => {
    const files = readLayers();
    const names = Object.keys(files);
    assert.ok(names.includes("socket/websocket.ts"));
    assert.ok(names.includes("adapters/node.ts"));
    assert.ok(names.includes("core/connection.ts"));
    assert.deepEqual(violations(files), []);
  });

  test("adapters/ may not import socket/ or an entry file", () => {
    assert.deepEqual(
      violations({
        "adapters/node.ts":
          'import { type ServeOptions } from "../socket/server.ts";\n' +
          'export * from "../streams.ts";',
      }),
      [
        "adapters/node.ts -> ../socket/server.ts",
        "adapters/node.ts -> ../streams.ts",
      ],
    );
  });

  test("socket/ may import only the transport types of adapters/", () => {
    assert.deepEqual(
      violations({
        "socket/websocket.ts": [
          'import type { Runtime } from "../adapters/transport.ts";',
          'import { zlibCodec } from "../adapters/deflate.ts";',
          'import {\n  currentRuntime,\n} from "../adapters/runtime.ts";',
          'export { attach } from "../node.ts";',
        ].join("\n"),
      }),
      [
        "socket/websocket.ts -> ../adapters/deflate.ts",
        "socket/websocket.ts -> ../adapters/runtime.ts",
        "socket/websocket.ts -> ../node.ts",
      ],
    );
  });

  test("core/ imports only core/ and names no runtime", () => {
    assert.deepEqual(
      violations({
        "core/a.ts": 'import { x } from "./b.ts";\nimport "node:fs";\n',
        "core/c.ts": 'export { y } from "../adapters/transport.ts";',
        "core/d.ts":
          "// setTimeout in a comment is fine\nconst t = setTimeout;",
        "core/e.ts": 'const s = "Deno in a string is fine";',
        "core/f.ts": "const g = globalThis;",
      }),
      [
        "core/a.ts -> node:fs",
        "core/c.ts -> ../adapters/transport.ts",
        "core/d.ts uses setTimeout",
        "core/f.ts uses globalThis",
      ],
    );
  });
});
