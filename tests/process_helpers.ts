/** Helpers to run examples and fixtures as child processes with the current runtime. */
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import process from "node:process";

const g = globalThis as { Deno?: unknown; Bun?: unknown };

/** The command line that runs a TypeScript file with the current runtime. */
export function runtimeArgs(file: string): string[] {
  if (g.Deno) return ["run", "-A", file];
  if (g.Bun) return ["run", file];
  return ["--import", "tsx", file];
}

/** Starts an example and resolves with the process and its printed ws:// URL. */
export async function startExample(
  file: string,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, runtimeArgs(file), {
    env: { ...process.env, PORT: "0", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no URL printed by ${file}: ${output}`)),
      30000,
    );
    const look = (d: Uint8Array) => {
      output += new TextDecoder().decode(d);
      const match = /(wss?|http):\/\/127\.0\.0\.1:\d+\S*/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[0]);
      }
    };
    child.stdout!.on("data", look);
    child.stderr!.on("data", look);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited with ${code}: ${output}`));
    });
  });
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill();
    await exited;
  };
  return { child, url, stop };
}

/**
 * Peers in a Node child process (tests/fixtures/holder.mjs) that each send
 * one of `requests` and never close their side of TCP. `answers[i]` is the
 * first bytes peer i got, `eof[i]` whether the server ended (or reset) it.
 */
export function holdOpen(port: number, requests: string[]): {
  answers: (string | undefined)[];
  eof: boolean[];
  stop(): Promise<void>;
} {
  const file = "tests/fixtures/holder.mjs"; // tests run from the repo root
  const child = spawn("node", [file, String(port), JSON.stringify(requests)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const answers: (string | undefined)[] = requests.map(() => undefined);
  const eof = requests.map(() => false);
  let buffered = "";
  child.stdout!.on("data", (d: Uint8Array) => {
    buffered += new TextDecoder().decode(d);
    let end;
    while ((end = buffered.indexOf("\n")) >= 0) {
      const line = JSON.parse(buffered.slice(0, end));
      buffered = buffered.slice(end + 1);
      if (line.answer !== undefined) answers[line.i] = line.answer;
      if (line.eof) eof[line.i] = true;
    }
  });
  const exited = new Promise((r) => child.once("exit", r));
  return {
    answers,
    eof,
    async stop() {
      child.stdin!.end();
      await exited;
    },
  };
}
