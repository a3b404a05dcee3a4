/**
 * wskit over a transport that is not TCP: here an in-memory pipe of WHATWG
 * streams, through the streams adapter. Swap `memoryPipe()` for anything that
 * offers `{ readable, writable }` byte streams — a `Deno.Conn`, a
 * WebTransport bidirectional stream, a child process's stdio, a serial port
 * — and nothing else changes. Runs unchanged on Node.js, Deno and Bun (and
 * the same code runs in a browser):
 *
 *   node --import tsx examples/custom_transport.ts
 *   deno run -A examples/custom_transport.ts
 *   bun run examples/custom_transport.ts
 *
 * The server side runs the full opening handshake with the usual hooks (path
 * and authentication, subprotocol choice); the client side uses the streams
 * API (`WebSocketStream`), reading replies with `for await`.
 *
 * @module
 */

import { acceptStream, connectStream, memoryPipe } from "../streams.ts";
import { WebSocketStream } from "../socket/websocket_stream.ts";

const [clientEnd, serverEnd] = memoryPipe();

// The server end: a handshake with hooks, then an uppercasing echo.
const accepted = acceptStream(serverEnd, {
  path: "/shout",
  protocols: ["shout.v1"],
  authenticate: (request) => request.headers.get("authorization") === "secret",
}).then((socket) => {
  console.log(`server: accepted ${socket.url}, subprotocol ${socket.protocol}`);
  socket.binaryType = "uint8array";
  socket.onmessage = (event) => {
    const data = event.data as string | Uint8Array;
    socket.send(
      typeof data === "string" ? data.toUpperCase() : data.slice().reverse(),
    );
  };
  return new Promise<void>((resolve) => {
    socket.onclose = (event) => {
      console.log(
        `server: closed ${event.code} ${JSON.stringify(event.reason)}`,
      );
      resolve();
    };
  });
});

// The client end: a WebSocket over the pipe, used through the streams API.
const socket = connectStream(clientEnd, "ws://in-memory/shout", {
  protocols: ["shout.v1"],
  headers: { authorization: "secret" },
});
const stream = new WebSocketStream(socket);
const { readable, writable, protocol } = await stream.opened;
console.log(`client: open, subprotocol ${protocol}`);

const writer = writable.getWriter();
await writer.write("hello over a pipe");
await writer.write(new Uint8Array([1, 2, 3]));
let replies = 0;
for await (const message of readable) {
  console.log(
    typeof message === "string"
      ? `client: < ${message}`
      : `client: < ${message.length} bytes [${message.join(", ")}]`,
  );
  if (++replies === 2) stream.close({ closeCode: 1000, reason: "done" });
}
const { closeCode, reason } = await stream.closed;
console.log(`client: closed ${closeCode} ${JSON.stringify(reason)}`);
await accepted;
