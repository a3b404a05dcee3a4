/**
 * Bundled by tests/browser.test.ts (esbuild, platform "browser") and run in
 * Chromium: the streams adapter and the streams API inside a web page — a
 * client core and a server core over an in-page stream pair. It imports
 * only browser-safe modules; bundling fails if anything pulls in `node:`.
 */
import {
  acceptStream,
  connectStream,
  memoryPipe,
  openStream,
} from "../../streams.ts";
import { WebSocketStream } from "../../socket/websocket_stream.ts";
import { closeCodeName } from "../../core/close.ts";

/** What the page reports back to the test. */
export interface StreamsPageResult {
  serverProtocol: string;
  clientProtocol: string;
  received: unknown[];
  echoed: unknown[];
  closed: { closeCode?: number; reason?: string };
  closedName: string;
  rejected: string;
  tunnel: unknown[];
  userAgent: string;
}

async function run(): Promise<StreamsPageResult> {
  // Handshake and messages over an in-page pipe.
  const [clientEnd, serverEnd] = memoryPipe();
  const received: unknown[] = [];
  const accepted = acceptStream(serverEnd, { protocols: ["page.v1"] });
  const stream = new WebSocketStream(
    connectStream(clientEnd, "ws://in-page/", { protocols: ["page.v1"] }),
  );
  const server = await accepted;
  server.binaryType = "uint8array";
  server.onmessage = (event) => {
    received.push(
      event.data instanceof Uint8Array ? Array.from(event.data) : event.data,
    );
    server.send(event.data);
  };
  const { readable, writable, protocol } = await stream.opened;
  const writer = writable.getWriter();
  await writer.write("from the page");
  await writer.write(new Uint8Array([1, 2, 3, 250]));
  const echoed: unknown[] = [];
  for await (const message of readable) {
    echoed.push(message instanceof Uint8Array ? Array.from(message) : message);
    if (echoed.length === 2) {
      stream.close({ closeCode: 4100, reason: "page done" });
    }
  }
  const closed = await stream.closed;

  // A handshake the server refuses.
  const [c2, s2] = memoryPipe();
  const refused = acceptStream(s2, { path: "/only-here" }).then(
    () => "accepted?!",
    (error: Error) => error.message,
  );
  connectStream(c2, "ws://in-page/elsewhere");
  const rejected = await refused;

  // A pair that starts OPEN (handshake done elsewhere).
  const [c3, s3] = memoryPipe();
  const left = openStream(c3, { role: "client", protocol: "tunnel" });
  const right = openStream(s3, { role: "server", protocol: "tunnel" });
  right.binaryType = "arraybuffer";
  const tunnel: unknown[] = [];
  const gotBoth = new Promise<void>((resolve) => {
    right.onmessage = (event) => {
      tunnel.push(
        event.data instanceof ArrayBuffer
          ? Array.from(new Uint8Array(event.data))
          : event.data,
      );
      if (tunnel.length === 2) resolve();
    };
  });
  left.send("through the tunnel");
  left.send(new Uint8Array([7, 7]));
  await gotBoth;
  const bothClosed = new Promise((resolve) => (right.onclose = resolve));
  left.close(1000);
  await bothClosed;

  return {
    serverProtocol: server.protocol,
    clientProtocol: protocol,
    received,
    echoed,
    closed,
    closedName: closeCodeName(closed.closeCode ?? 0),
    rejected,
    tunnel,
    userAgent: navigator.userAgent,
  };
}

(globalThis as { runStreamsPage?: () => Promise<StreamsPageResult> })
  .runStreamsPage = run;
