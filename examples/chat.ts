/**
 * A broadcast chat room that runs unchanged on Node.js, Deno and Bun:
 *
 *   node --import tsx examples/chat.ts
 *   deno run -A examples/chat.ts
 *   bun run examples/chat.ts
 *
 * Listens on 127.0.0.1:$PORT (default 8081). Join with any WebSocket client,
 * e.g. `node --import tsx examples/client.ts ws://127.0.0.1:8081/?name=ada`
 * (the optional `name` query parameter picks a nickname). Every text message
 * goes to everyone in the room (the sender too) as `name: text`; joins and
 * departures are announced as `* name joined` / `* name left`. Commands:
 * `/nick NAME` renames you, `/who` lists who is here (sent only to you).
 * The room is text only: a binary message closes its connection with 1003
 * (unsupported data). Speaks the `chat` subprotocol when offered.
 *
 * @module
 */

import { serve, type WebSocket } from "../mod.ts";
import { env } from "./env.ts";

const names = new Map<WebSocket, string>();
let guests = 0;

/** A nickname: letters, digits, `-`, `_` and `.`, at most 24 characters. */
function cleanName(name: string | null): string | undefined {
  const trimmed = name?.trim() ?? "";
  return /^[\w.-]{1,24}$/.test(trimmed) ? trimmed : undefined;
}

/** A nickname nobody else in the room uses. */
function uniqueName(wanted: string, self?: WebSocket): string {
  const taken = new Set(
    [...names].filter(([socket]) => socket !== self).map(([, n]) => n),
  );
  let name = wanted;
  for (let i = 2; taken.has(name); i++) name = `${wanted}-${i}`;
  return name;
}

const server = await serve({
  hostname: "127.0.0.1",
  port: Number(env("PORT") ?? 8081),
  protocols: ["chat"],
  onConnection(socket, request) {
    const query = new URL(request.target, "ws://chat").searchParams;
    const name = uniqueName(
      cleanName(query.get("name")) ?? `guest-${++guests}`,
    );
    names.set(socket, name);
    socket.send(`* welcome, ${name}: ${names.size} here; /nick NAME, /who`);
    server.broadcast(`* ${name} joined`, socket);

    socket.onmessage = (event) => {
      if (typeof event.data !== "string") {
        socket.closeWithCode(1003, "this room is text only");
        return;
      }
      const text = event.data.trim();
      const current = names.get(socket)!;
      if (text.startsWith("/nick ")) {
        const wanted = cleanName(text.slice(6));
        if (wanted === undefined) {
          socket.send("* a name is 1-24 letters, digits, '-', '_' or '.'");
          return;
        }
        const renamed = uniqueName(wanted, socket);
        names.set(socket, renamed);
        server.broadcast(`* ${current} is now ${renamed}`);
      } else if (text === "/who") {
        socket.send(`* here: ${[...names.values()].join(", ")}`);
      } else if (text !== "") {
        server.broadcast(`${current}: ${text}`);
      }
    };
    socket.onclose = () => {
      const gone = names.get(socket);
      names.delete(socket);
      server.broadcast(`* ${gone} left`);
    };
  },
});

console.log(`chat server listening on ws://127.0.0.1:${server.port}`);
