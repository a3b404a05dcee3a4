/**
 * The chat, CLI client, inspector and custom-transport examples, each run as
 * a separate process with the runtime that runs this test (node --import
 * tsx, deno run -A, bun run) and exercised: the chat with three clients, the
 * CLI through its stdin and stdout.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { runtimeArgs, startExample } from "./process_helpers.ts";
import { WebSocket } from "../mod.ts";
import {
  closed,
  connect,
  inbox,
  once,
  startServer,
  until,
  urlOf,
} from "./net_helpers.ts";

/** A child process whose stdout is collected and can be waited on. */
function run(file: string, args: string[] = []): {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp | string): Promise<void>;
  send(line: string): void;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, [...runtimeArgs(file), ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on(
    "data",
    (d: Uint8Array) => (out += new TextDecoder().decode(d)),
  );
  child.stderr!.on(
    "data",
    (d: Uint8Array) => (err += new TextDecoder().decode(d)),
  );
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code))
  );
  return {
    child,
    exited,
    output: () => out,
    waitFor: (pattern) =>
      until(
        () =>
          typeof pattern === "string"
            ? out.includes(pattern)
            : pattern.test(out),
        `${pattern} in the output of ${file}: ${out}${err}`,
        30000,
      ),
    send: (line) => child.stdin!.write(`${line}\n`),
  };
}

/**
 * Opens a client with its inbox attached from the start: the chat greets a
 * client right after the handshake, and the greeting may arrive in the same
 * read as the handshake response (so before `open` listeners resume).
 */
async function join(
  url: string,
  protocols?: string[],
): Promise<{ ws: WebSocket; box: ReturnType<typeof inbox> }> {
  const ws = new WebSocket(url, protocols);
  ws.binaryType = "uint8array";
  const box = inbox(ws);
  await once(ws, "open");
  return { ws, box };
}

/** Kills `child` if it still runs, and waits for it to exit. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill();
  await exited;
}

test("examples: chat greets, broadcasts to everyone, renames, lists and announces departures", async () => {
  const chat = await startExample("examples/chat.ts");
  try {
    const { ws: ada, box: adaBox } = await join(`${chat.url}/?name=ada`, [
      "chat",
    ]);
    assert.equal(ada.protocol, "chat");
    assert.match(String(await adaBox.next()), /^\* welcome, ada: 1 here/);
    const { ws: bob, box: bobBox } = await join(`${chat.url}/?name=bob`);
    assert.match(String(await bobBox.next()), /^\* welcome, bob: 2 here/);
    assert.equal(await adaBox.next(), "* bob joined");
    // The name is taken: this one becomes ada-2.
    const { ws: guest, box: guestBox } = await join(`${chat.url}/?name=ada`);
    assert.match(String(await guestBox.next()), /^\* welcome, ada-2: 3 here/);
    assert.equal(await adaBox.next(), "* ada-2 joined");
    assert.equal(await bobBox.next(), "* ada-2 joined");

    bob.send("hello room");
    for (const box of [adaBox, bobBox, guestBox]) {
      assert.equal(await box.next(), "bob: hello room");
    }
    guest.send("/nick cy");
    for (const box of [adaBox, bobBox, guestBox]) {
      assert.equal(await box.next(), "* ada-2 is now cy");
    }
    guest.send("/who");
    assert.equal(await guestBox.next(), "* here: ada, bob, cy");

    const bobClosed = closed(bob);
    bob.close(1000);
    await bobClosed;
    assert.equal(await adaBox.next(), "* bob left");
    assert.equal(await guestBox.next(), "* bob left");
    for (const ws of [ada, guest]) {
      const done = closed(ws);
      ws.close();
      await done;
    }
  } finally {
    await chat.stop();
  }
});

test("examples: chat closes a client that sends binary with 1003", async () => {
  const chat = await startExample("examples/chat.ts");
  try {
    const { ws } = await join(chat.url);
    const done = closed(ws);
    ws.send(new Uint8Array([1]));
    const event = await done;
    assert.deepEqual([event.code, event.reason, event.wasClean], [
      1003,
      "this room is text only",
      true,
    ]);
  } finally {
    await chat.stop();
  }
});

test("examples: client prints the subprotocol, sends stdin lines, prints text, binary and pongs, and the close code with its name", async () => {
  const server = await startServer({
    protocols: ["v2", "chat"],
    onConnection(socket) {
      socket.binaryType = "uint8array";
      socket.onmessage = (event) => socket.send(event.data);
    },
  });
  const cli = run("examples/client.ts", [urlOf(server, "/x"), "chat", "v2"]);
  try {
    await cli.waitFor("protocol: v2");
    assert.match(cli.output(), /connected to ws:\/\/127\.0\.0\.1:\d+\/x/);
    cli.send("hello there");
    await cli.waitFor("< hello there");
    cli.send("/binary 00 0a ff");
    await cli.waitFor("< binary 3 bytes: 00 0a ff");
    cli.send("/ping knock");
    await cli.waitFor("< pong knock");
    cli.send("/close 4321 see you");
    await cli.waitFor('closed: 4321 Application "see you"');
    assert.equal(await cli.exited, 0);
  } finally {
    await stop(cli.child);
    await server.close();
  }
});

test("examples: client closes with 1000 at the end of input, and reports a server's going-away", async () => {
  const server = await startServer({
    onConnection(socket) {
      socket.onmessage = (event) => socket.send(event.data);
    },
  });
  const first = run("examples/client.ts", [urlOf(server)]);
  const second = run("examples/client.ts", [urlOf(server)]);
  try {
    await first.waitFor("protocol: (none)");
    first.send("bye");
    await first.waitFor("< bye");
    first.child.stdin!.end();
    await first.waitFor("closed: 1000 Normal");
    assert.equal(await first.exited, 0);

    await second.waitFor("protocol: (none)");
    await until(() => server.clients.size === 1, "the second client");
    await server.close(); // 1001, "server shutting down"
    await second.waitFor('closed: 1001 GoingAway "server shutting down"');
    assert.equal(await second.exited, 0);
  } finally {
    await stop(first.child);
    await stop(second.child);
    await server.close();
  }
});

test("examples: client reports a failed connection as 1006 Abnormal and exits 1", async () => {
  const server = await startServer();
  const url = urlOf(server);
  await server.close(); // nothing listens there now
  const cli = run("examples/client.ts", [url]);
  try {
    assert.equal(await cli.exited, 1);
    assert.match(cli.output(), /! error: .+/);
    assert.match(cli.output(), /closed: 1006 Abnormal/);
  } finally {
    await stop(cli.child);
  }
});

test("examples: inspector serves its page and a WebSocket echo on one port", async () => {
  const inspector = await startExample("examples/inspector/server.ts");
  try {
    assert.match(inspector.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await fetch(inspector.url);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    const html = await page.text();
    assert.match(html, /<title>wskit inspector<\/title>/);
    assert.match(html, /"1001":"GoingAway"/, "close code names filled in");
    const missing = await fetch(new URL("/nope", inspector.url));
    assert.equal(missing.status, 404);
    await missing.body?.cancel();

    const wsUrl = inspector.url.replace("http:", "ws:") + "ws";
    const ws = await connect(wsUrl, ["nonsense", "v12.stomp", "mqtt"]);
    assert.equal(ws.protocol, "v12.stomp");
    const box = inbox(ws);
    ws.send("inspect me");
    ws.send(new Uint8Array([4, 5]));
    assert.equal(await box.next(), "inspect me");
    assert.deepEqual(await box.next(), new Uint8Array([4, 5]));
    const done = closed(ws);
    ws.close(4000, "done");
    assert.deepEqual([(await done).code, (await done).reason], [4000, "done"]);
  } finally {
    await inspector.stop();
  }
});

test("examples: custom_transport runs a handshake and messages over an in-memory pipe", async () => {
  const example = run("examples/custom_transport.ts");
  try {
    assert.equal(await example.exited, 0, example.output());
    const lines = example.output().trim().split("\n");
    assert.deepEqual(lines.slice(0, 4), [
      "server: accepted ws://in-memory/shout, subprotocol shout.v1",
      "client: open, subprotocol shout.v1",
      "client: < HELLO OVER A PIPE",
      "client: < 3 bytes [3, 2, 1]",
    ]);
    // Both ends report the clean close, in either order.
    assert.deepEqual(lines.slice(4).sort(), [
      'client: closed 1000 "done"',
      'server: closed 1000 "done"',
    ]);
  } finally {
    await stop(example.child);
  }
});
