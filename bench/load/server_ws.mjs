// The `ws` echo server for the load benchmark (Node). `ws` uses the
// `bufferutil` addon when it is installed, unless WS_NO_BUFFER_UTIL=1.
// Listens on 127.0.0.1:$PORT (0: any free port) and prints `READY <port>`.
// WS_MAX_PAYLOAD sets `maxPayload` (default: ws's own, 100 MiB).
import { WebSocketServer } from "ws";

const server = new WebSocketServer({
  host: "127.0.0.1",
  port: Number(process.env.PORT ?? 0),
  perMessageDeflate: false,
  ...(process.env.WS_MAX_PAYLOAD
    ? { maxPayload: Number(process.env.WS_MAX_PAYLOAD) }
    : {}),
});
server.on("connection", (ws) => {
  ws.on("error", () => {}); // a refused message (1009) is not a crash
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});
server.on("listening", () => console.log(`READY ${server.address().port}`));
