/**
 * A command-line WebSocket client that runs unchanged on Node.js, Deno and
 * Bun:
 *
 *   node --import tsx examples/client.ts <url> [protocol...]
 *   deno run -A examples/client.ts ws://127.0.0.1:8080 chat
 *   bun run examples/client.ts ws://127.0.0.1:8081/?name=ada chat
 *
 * Connects to `url` offering the given subprotocols and prints the one the
 * server selected. Each line typed (or piped) on stdin is sent as a text
 * message; incoming messages are printed as `< text` or
 * `< binary N bytes: hex`. Commands:
 *
 *   /binary HEX            send bytes, e.g. `/binary 00ff10`
 *   /ping [text]           send a ping (the pong is printed)
 *   /close [code [reason]] start the closing handshake
 *
 * At the end of input the client closes with 1000. When the connection
 * closes it prints the close code with its name (e.g. `1000 Normal`) and
 * exits: status 0 after a clean close, 1 otherwise.
 *
 * @module
 */

import process from "node:process";
import { createInterface } from "node:readline";
import { closeCodeName, WebSocket } from "../mod.ts";

const [url, ...protocols] = process.argv.slice(2);
if (url === undefined || url === "-h" || url === "--help") {
  console.error("usage: client.ts <url> [protocol...]");
  process.exit(2);
}

function hex(bytes: Uint8Array): string {
  const shown = Array.from(
    bytes.subarray(0, 64),
    (b) => b.toString(16).padStart(2, "0"),
  ).join(" ");
  return bytes.length > 64 ? `${shown} ...` : shown;
}

function parseHex(text: string): Uint8Array | undefined {
  const digits = text.replace(/\s+/g, "");
  if (digits.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(digits)) {
    return undefined;
  }
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  }
  return bytes;
}

let ws: WebSocket;
try {
  ws = new WebSocket(url, protocols);
} catch (error) {
  console.error(`cannot connect: ${(error as Error).message}`);
  process.exit(2);
}
ws.binaryType = "uint8array";

const input = createInterface({ input: process.stdin, terminal: false });
const early: string[] = []; // lines typed before the connection opened

function handle(line: string): void {
  if (ws.readyState === WebSocket.CONNECTING) {
    early.push(line);
    return;
  }
  if (ws.readyState !== WebSocket.OPEN) return;
  try {
    if (line.startsWith("/binary")) {
      const bytes = parseHex(line.slice(7));
      if (bytes === undefined) console.log("! /binary wants hex digits");
      else ws.send(bytes);
    } else if (line === "/ping" || line.startsWith("/ping ")) {
      ws.ping(line.slice(6));
    } else if (line === "/close" || line.startsWith("/close ")) {
      const [, code, ...reason] = line.split(" ");
      ws.close(code ? Number(code) : 1000, reason.join(" "));
    } else {
      ws.send(line);
    }
  } catch (error) {
    console.log(`! ${(error as Error).message}`);
  }
}

ws.onopen = () => {
  console.log(`connected to ${ws.url}`);
  console.log(`protocol: ${ws.protocol === "" ? "(none)" : ws.protocol}`);
  for (const line of early.splice(0)) handle(line);
};
ws.onmessage = (event) => {
  const data = event.data as string | Uint8Array;
  if (typeof data === "string") console.log(`< ${data}`);
  else console.log(`< binary ${data.length} bytes: ${hex(data)}`);
};
ws.addEventListener("pong", (event) => {
  const data = (event as MessageEvent).data as Uint8Array;
  console.log(`< pong ${new TextDecoder().decode(data)}`);
});
ws.onerror = (event) => {
  console.log(`! error: ${(event as { message?: string }).message ?? ""}`);
};
ws.onclose = (event) => {
  const reason = event.reason === "" ? "" : ` ${JSON.stringify(event.reason)}`;
  console.log(`closed: ${event.code} ${closeCodeName(event.code)}${reason}`);
  input.close();
  process.exit(event.wasClean ? 0 : 1);
};

input.on("line", handle);
input.on("close", () => {
  // End of input: close, once any typed lines were sent.
  if (ws.readyState === WebSocket.OPEN) ws.close(1000);
  else if (ws.readyState === WebSocket.CONNECTING) {
    ws.addEventListener("open", () => ws.close(1000), { once: true });
  }
});
