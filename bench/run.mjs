// Runs the micro suites (bench/*.bench.ts) on Node, Deno and Bun, one after
// the other. Arguments are passed to every suite (e.g. --quick,
// --filter TEXT, --rounds N); `--runtimes node,bun` and `--suites
// decode,encode` pick a subset.
//
//   npm run bench
//   npm run bench -- --quick --runtimes node --suites decode

import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const bin = (name) => join(root, "node_modules", ".bin", name);

const args = process.argv.slice(2);
function take(flag) {
  const i = args.indexOf(flag);
  if (i === -1) return undefined;
  const [, value] = args.splice(i, 2);
  return value.split(",");
}
const runtimes = take("--runtimes") ?? ["node", "deno", "bun"];
const only = take("--suites");
const suites = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) =>
    only === undefined || only.includes(f.replace(".bench.ts", ""))
  )
  .sort();

const commands = {
  node: (file) => [process.execPath, "--import", "tsx", file],
  deno: (file) => [bin("deno"), "run", "-A", "--no-check", file],
  bun: (file) => [bin("bun"), "run", file],
};

let failed = 0;
for (const runtime of runtimes) {
  for (const suite of suites) {
    const [cmd, ...rest] = commands[runtime](join(here, suite));
    console.log(`\n### ${suite} on ${runtime}\n`);
    const result = spawnSync(cmd, [...rest, ...args], {
      cwd: root,
      stdio: "inherit",
    });
    if (result.status !== 0) {
      failed++;
      console.error(
        `${suite} on ${runtime} exited with ${result.status ?? result.signal}`,
      );
    }
  }
}
process.exit(failed === 0 ? 0 : 1);
