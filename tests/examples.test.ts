/**
 * The examples, started as separate processes with the same runtime that runs
 * this test (node --import tsx, deno run -A, bun run), and exercised over
 * loopback.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { closed, connect, inbox } from "./net_helpers.ts";

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

test("examples: echo_server echoes text and binary, picks the client's first supported subprotocol, echoes close", async () => {
  const server = await startExample("examples/echo_server.ts");
  try {
    const ws = await connect(server.url, ["nonsense", "mqtt", "chat"]);
    assert.equal(ws.protocol, "mqtt");
    const box = inbox(ws);
    ws.send("text stays text");
    ws.send(new Uint8Array([0, 255, 1]));
    assert.equal(await box.next(), "text stays text");
    assert.deepEqual(await box.next(), new Uint8Array([0, 255, 1]));
    const done = closed(ws);
    ws.close(4123, "same back");
    const event = await done;
    assert.deepEqual([event.code, event.reason, event.wasClean], [
      4123,
      "same back",
      true,
    ]);
    const plain = await connect(server.url);
    assert.equal(plain.protocol, "");
    plain.close();
    await closed(plain);
  } finally {
    await server.stop();
  }
});
