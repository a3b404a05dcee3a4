// The `ws` server for bench/load/refused.mjs: refuses every handshake with
// 401 (`verifyClient` false) except for the path `/ok`. `ws` has no
// connection cap. Listens on 127.0.0.1:$PORT and prints `READY <port>`.
import { WebSocketServer } from "ws";

const server = new WebSocketServer({
  host: "127.0.0.1",
  port: Number(process.env.PORT ?? 0),
  verifyClient: (info) => info.req.url === "/ok",
});
server.on("connection", (ws) => ws.on("message", (data) => ws.send(data)));
server.on("listening", () => console.log(`READY ${server.address().port}`));
