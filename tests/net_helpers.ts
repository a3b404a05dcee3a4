/** Helpers for tests over real loopback sockets. */
import * as net from "node:net";
import { Buffer } from "node:buffer";
import {
  serve,
  type ServeOptions,
  WebSocket,
  type WebSocketServer,
} from "../mod.ts";
import type {
  WebSocketCloseEvent,
  WebSocketOptions,
} from "../socket/websocket.ts";

/** Starts a server on 127.0.0.1, port 0. */
export function startServer(
  options: ServeOptions = {},
): Promise<WebSocketServer> {
  return serve({ hostname: "127.0.0.1", port: 0, ...options });
}

/** An echo server whose sockets echo every message. */
export function startEcho(
  options: ServeOptions = {},
): Promise<WebSocketServer> {
  return startServer({
    ...options,
    onConnection(socket, request) {
      socket.binaryType = "uint8array";
      socket.onmessage = (event) => socket.send(event.data);
      options.onConnection?.(socket, request);
    },
  });
}

/** Resolves with the next event of `type` on `target`. */
export function once<T extends Event = Event>(
  target: EventTarget,
  type: string,
): Promise<T> {
  return new Promise((resolve) =>
    target.addEventListener(type, (e) => resolve(e as T), { once: true })
  );
}

/** Resolves with the close event (registering now, so nothing is missed). */
export function closed(ws: WebSocket): Promise<WebSocketCloseEvent> {
  return once<WebSocketCloseEvent>(ws, "close");
}

/** Opens a client and resolves when it is open; rejects on close first. */
export function connect(
  url: string,
  protocols?: string | string[],
  options?: WebSocketOptions,
): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, options);
  ws.binaryType = "uint8array";
  return new Promise((resolve, reject) => {
    ws.addEventListener("open", () => resolve(ws), { once: true });
    ws.addEventListener(
      "close",
      (e) => reject(new Error(`closed ${(e as WebSocketCloseEvent).code}`)),
      {
        once: true,
      },
    );
  });
}

/** Collects messages as they arrive; `next()` resolves with the next one. */
export function inbox(
  ws: WebSocket,
): { next(): Promise<unknown>; all: unknown[] } {
  const all: unknown[] = [];
  const waiting: ((v: unknown) => void)[] = [];
  let read = 0;
  ws.addEventListener("message", (e) => {
    all.push((e as MessageEvent).data);
    const w = waiting.shift();
    if (w) w(all[read++]);
  });
  return {
    all,
    next() {
      if (read < all.length) return Promise.resolve(all[read++]);
      return new Promise((r) => waiting.push(r));
    },
  };
}

/** `ws://127.0.0.1:port` plus a path. */
export function urlOf(server: WebSocketServer, path = "/"): string {
  return `ws://127.0.0.1:${server.port}${path}`;
}

/** Waits until `check()` is true (polling), failing after `ms`. */
export async function until(
  check: () => boolean,
  what: string,
  ms = 10000,
): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A raw client that completes the handshake; returns the socket and what it received after the 101. */
export async function rawClient(
  port: number,
): Promise<{ socket: net.Socket; received: () => Buffer }> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  let buffer = Buffer.alloc(0);
  let opened = false;
  await new Promise<void>((resolve) => {
    socket.on("data", (d) => {
      buffer = Buffer.concat([buffer, d]);
      if (!opened) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end >= 0) {
          opened = true;
          buffer = buffer.subarray(end + 4);
          resolve();
        }
      }
    });
    socket.write(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
  });
  return { socket, received: () => buffer };
}
