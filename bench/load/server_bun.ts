/**
 * Bun's built-in WebSocket server (uWebSockets) as an echo server for the
 * load benchmark. Listens on 127.0.0.1:$PORT (0: any free port) and prints
 * `READY <port>`.
 *
 * @module
 */

declare const Bun: {
  serve(options: unknown): { port: number };
  env: Record<string, string | undefined>;
};

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(Bun.env.PORT ?? 0),
  fetch(
    request: Request,
    server: { upgrade(request: Request): boolean },
  ): Response | undefined {
    if (server.upgrade(request)) return undefined;
    return new Response("WebSocket only", { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    maxPayloadLength: 64 * 1024 * 1024,
    message(
      ws: { send(data: string | Uint8Array): number },
      message: string | Uint8Array,
    ) {
      ws.send(message);
    },
  },
});

console.log(`READY ${server.port}`);
