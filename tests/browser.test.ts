/**
 * A real browser against this kit: Debian's Chromium (`/usr/bin/chromium`),
 * headless, driven by playwright-core from whichever runtime runs this file
 * (Node, Deno and Bun can all drive it), so the server under test is each
 * runtime's own adapter.
 *
 * - Chromium's own `WebSocket` (and its native `WebSocketStream`) talks to
 *   our server: text, binary, a large message, subprotocol, close code.
 * - The inspector example page, driven end to end like a person would.
 * - The streams adapter inside a page: bundled for the browser with esbuild
 *   (which fails on any `node:` import), then a client core and a server core
 *   talk over an in-page stream pair.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { build } from "esbuild";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { startExample } from "./process_helpers.ts";
import { startServer, urlOf } from "./net_helpers.ts";
import type { StreamsPageResult } from "./browser/streams_page.ts";

const CHROMIUM = "/usr/bin/chromium";
// Without Chromium (a developer machine), skip; CI installs it and must run.
const skip = !existsSync(CHROMIUM) && process.env.CI !== "true"
  ? `${CHROMIUM} is missing (apt-get install -y chromium)`
  : false;

/** Runs `fn` with a page of a fresh headless Chromium, then closes it all. */
async function withPage(fn: (page: Page) => Promise<void>): Promise<void> {
  const profile = mkdtempSync(join(tmpdir(), "wskit-chromium-"));
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    const page = context.pages()[0] ?? await context.newPage();
    await fn(page);
  } finally {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

test(
  "browser: Chromium's WebSocket round-trips text, binary and a large message with our server, and the close code",
  {
    skip,
  },
  async () => {
    const server = await startServer({
      protocols: ["chat", "superchat"],
      onConnection(socket) {
        socket.binaryType = "uint8array";
        socket.onmessage = (event) => socket.send(event.data);
      },
    });
    try {
      await withPage(async (page) => {
        const result = await page.evaluate(async (url: string) => {
          const ws = new WebSocket(url, ["superchat", "chat"]);
          ws.binaryType = "arraybuffer";
          const messages: unknown[] = [];
          const big = new Uint8Array(200_000).map((_, i) => i % 251);
          await new Promise((resolve, reject) => {
            ws.onopen = resolve;
            ws.onerror = () => reject(new Error("could not connect"));
          });
          const closed = new Promise<CloseEvent>((r) => (ws.onclose = r));
          const three = new Promise<void>((resolve) => {
            ws.onmessage = (event) => {
              messages.push(event.data);
              if (messages.length === 3) resolve();
            };
          });
          ws.send("héllo from Chromium");
          ws.send(new Uint8Array([0, 1, 2, 255]));
          ws.send(big);
          await three;
          ws.close(4321, "bye from Chromium");
          const event = await closed;
          const [text, small, large] = messages;
          const bigBack = new Uint8Array(large as ArrayBuffer);
          return {
            protocol: ws.protocol,
            extensions: ws.extensions,
            text,
            small: Array.from(new Uint8Array(small as ArrayBuffer)),
            bigIntact: bigBack.length === big.length &&
              bigBack.every((b, i) => b === big[i]),
            close: [event.code, event.reason, event.wasClean],
          };
        }, urlOf(server, "/chromium"));
        // Chromium offers permessage-deflate by default and our server accepts
        // it, so the (compressible) large message went compressed both ways.
        assert.match(result.extensions, /^permessage-deflate/);
        assert.deepEqual({ ...result, extensions: undefined }, {
          protocol: "chat", // the server's preference among those offered
          extensions: undefined,
          text: "héllo from Chromium",
          small: [0, 1, 2, 255],
          bigIntact: true,
          close: [4321, "bye from Chromium", true],
        });

        // Chromium's native WebSocketStream (shipped since Chromium 124).
        const native = await page.evaluate(async (url: string) => {
          type Stream = {
            opened: Promise<{
              readable: ReadableStream<string>;
              writable: WritableStream<string>;
              protocol: string;
            }>;
            closed: Promise<{ closeCode: number; reason: string }>;
            close(info: { closeCode: number; reason: string }): void;
          };
          const Native = (globalThis as {
            WebSocketStream?: new (
              url: string,
              options: { protocols: string[] },
            ) => Stream;
          }).WebSocketStream;
          if (Native === undefined) return "no WebSocketStream";
          const wss = new Native(url, { protocols: ["chat"] });
          const { readable, writable, protocol } = await wss.opened;
          const writer = writable.getWriter();
          const reader = readable.getReader();
          await writer.write("streamed");
          const { value } = await reader.read();
          wss.close({ closeCode: 4000, reason: "stream done" });
          const { closeCode, reason } = await wss.closed;
          return [protocol, value, closeCode, reason];
        }, urlOf(server));
        assert.deepEqual(native, ["chat", "streamed", 4000, "stream done"]);
      });
    } finally {
      await server.close();
    }
  },
);

test(
  "browser: the inspector page connects with subprotocols, sends text and binary, shows echoes, the subprotocol and the close code",
  {
    skip,
  },
  async () => {
    const inspector = await startExample("examples/inspector/server.ts");
    try {
      await withPage(async (page) => {
        await page.goto(inspector.url);
        assert.equal(await page.title(), "wskit inspector");
        assert.equal(
          await page.inputValue("#url"),
          inspector.url.replace("http:", "ws:") + "ws",
        );
        await page.fill("#protocols", "nonsense, mqtt chat");
        await page.click("#connect");
        await page.locator("#state", { hasText: "OPEN" }).waitFor();
        assert.equal(await page.textContent("#protocol"), "mqtt");
        const log = page.locator("#log tr");
        await log.filter({ hasText: "subprotocol mqtt" }).waitFor();

        await page.fill("#message", "hello, inspector");
        await page.click("#send");
        const textEcho = page.locator("#log tr.received", {
          hasText: "hello, inspector",
        });
        await textEcho.waitFor();
        assert.deepEqual(
          await textEcho.locator("td").allTextContents().then(
            (cells) => cells.slice(1),
          ),
          ["←", "text", "16 B", "hello, inspector"],
        );

        await page.selectOption("#type", "hex");
        await page.fill("#message", "00 ff 7f");
        await page.press("#message", "Enter");
        const binaryEcho = page.locator("#log tr.received", {
          hasText: "00 ff 7f",
        });
        await binaryEcho.waitFor();
        assert.deepEqual(
          (await binaryEcho.locator("td").allTextContents()).slice(1),
          ["←", "binary", "3 B", "00 ff 7f"],
        );
        assert.equal(await page.locator("#log tr.sent").count(), 2);

        await page.fill("#close-code", "4001");
        await page.fill("#close-reason", "bye");
        await page.click("#disconnect");
        await page.locator("#state", { hasText: "CLOSED" }).waitFor();
        const close = page.locator("#log tr", { hasText: "4001 Application" });
        await close.waitFor();
        assert.match(
          await close.textContent() ?? "",
          /close4001 Application “bye” \(clean\)/,
        );

        // An invalid close code is refused by the browser and logged.
        await page.click("#connect");
        await page.locator("#state", { hasText: "OPEN" }).waitFor();
        await page.fill("#close-code", "1006");
        await page.click("#disconnect");
        await page.locator("#log tr.error", { hasText: "InvalidAccessError" })
          .waitFor();
        await page.fill("#close-code", "");
        await page.fill("#close-reason", "");
        await page.click("#disconnect");
        await page.locator("#log tr", { hasText: "1005 NoStatus" }).waitFor();
      });
    } finally {
      await inspector.stop();
    }
  },
);

test(
  "browser: the streams adapter runs in a page — a client and a server core over an in-page stream pair",
  {
    skip,
  },
  async () => {
    const bundle = await build({
      entryPoints: ["tests/browser/streams_page.ts"],
      bundle: true,
      platform: "browser", // a `node:` import would fail the build
      format: "iife",
      target: "es2022",
      write: false,
      logLevel: "silent",
    });
    const code = bundle.outputFiles[0].text;
    assert.doesNotMatch(
      code,
      /["']node:|\b(?:Deno|Bun)\.[a-zA-Z]|\bprocess\.(?:env|argv|exit)/,
    );
    await withPage(async (page) => {
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      await page.setContent("<!doctype html><title>streams</title>");
      await page.addScriptTag({ content: code });
      const result = await page.evaluate(() =>
        (globalThis as unknown as {
          runStreamsPage(): Promise<StreamsPageResult>;
        }).runStreamsPage()
      );
      assert.deepEqual(errors, []);
      assert.match(result.userAgent, /Chrome/);
      assert.equal(result.serverProtocol, "page.v1");
      assert.equal(result.clientProtocol, "page.v1");
      assert.deepEqual(result.received, ["from the page", [1, 2, 3, 250]]);
      assert.deepEqual(result.echoed, ["from the page", [1, 2, 3, 250]]);
      assert.deepEqual(result.closed, { closeCode: 4100, reason: "page done" });
      assert.equal(result.closedName, "Application");
      assert.match(result.rejected, /HTTP\/1\.1 404/);
      assert.deepEqual(result.tunnel, ["through the tunnel", [7, 7]]);
    });
  },
);
