/**
 * Deno's built-in WebSocket server (`Deno.serve` + `Deno.upgradeWebSocket`)
 * as an echo server for the load benchmark. Listens on 127.0.0.1:$PORT (0:
 * any free port) and prints `READY <port>`.
 *
 * @module
 */

declare const Deno: {
  serve(
    options: {
      hostname: string;
      port: number;
      onListen(addr: { port: number }): void;
    },
    handler: (request: Request) => Response,
  ): unknown;
  upgradeWebSocket(request: Request): { socket: WebSocket; response: Response };
  env: { get(name: string): string | undefined };
};

Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? 0),
  onListen: ({ port }) => console.log(`READY ${port}`),
}, (request) => {
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => socket.send(event.data);
  return response;
});
