/**
 * Subprotocol negotiation over loopback: how the server reads the client's
 * `Sec-WebSocket-Protocol` offer (empty and duplicate items, whitespace,
 * case), how it chooses (server or client preference, `requireProtocol`),
 * that both ends expose the result, and that our client fails a connection
 * whose server answers with a protocol it did not offer.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import {
  chooseProtocol,
  computeAccept,
  selectProtocol,
  type ServeOptions,
  WebSocket,
  type WebSocketErrorEvent,
  type WebSocketServer,
} from "../mod.ts";
import { closed, connect, once, startServer, urlOf } from "./net_helpers.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

interface RawResponse {
  status: number;
  /** Header fields, names lower-cased, repeated ones in order. */
  headers: [string, string][];
  body: string;
}

/** The value of the `Sec-WebSocket-Protocol` response field, if any. */
function protocolOf(response: RawResponse): string | undefined {
  return response.headers.find(([n]) => n === "sec-websocket-protocol")?.[1];
}

/**
 * Sends an upgrade request with `fields` as extra header lines over a plain
 * TCP socket and resolves with the response head (and, for a refusal, the
 * body). The socket is closed afterwards.
 */
function rawUpgrade(port: number, fields: string[]): Promise<RawResponse> {
  const request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
    "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n` +
    fields.map((f) => f + "\r\n").join("") + "\r\n";
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(request));
    let text = "";
    const finish = () => {
      const end = text.indexOf("\r\n\r\n");
      if (end === -1) return false;
      const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
      const status = Number(statusLine.split(" ")[1]);
      const headers = lines.map((line): [string, string] => {
        const colon = line.indexOf(":");
        return [
          line.slice(0, colon).toLowerCase(),
          line.slice(colon + 1).trim(),
        ];
      });
      const length = Number(
        headers.find(([n]) => n === "content-length")?.[1] ?? 0,
      );
      const body = text.slice(end + 4);
      if (status !== 101 && body.length < length) return false;
      socket.destroy();
      resolve({ status, headers, body });
      return true;
    };
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      text += chunk;
      finish();
    });
    socket.on("error", reject);
    socket.on("close", () => {
      if (!finish()) reject(new Error(`incomplete response: ${text}`));
    });
  });
}

/** A server whose `protocols` function records each offered list. */
async function recordingServer(
  supported: readonly string[],
  options: ServeOptions = {},
): Promise<{ server: WebSocketServer; offers: string[][] }> {
  const offers: string[][] = [];
  const server = await startServer({
    ...options,
    protocols(offered) {
      offers.push([...offered]);
      return selectProtocol(offered, supported);
    },
  });
  return { server, offers };
}

test("subprotocols: empty and duplicate items in the offer are tolerated", async () => {
  const { server, offers } = await recordingServer(["b", "a"]);
  try {
    const response = await rawUpgrade(server.port, [
      "Sec-WebSocket-Protocol: a, , a,b",
    ]);
    assert.equal(response.status, 101);
    assert.equal(protocolOf(response), "b");
    // Empty items are dropped; duplicates are kept as sent (harmless).
    assert.deepEqual(offers[0], ["a", "a", "b"]);

    const empty = await rawUpgrade(server.port, [
      "Sec-WebSocket-Protocol: , ,",
    ]);
    assert.equal(empty.status, 101);
    assert.equal(protocolOf(empty), undefined);
    assert.deepEqual(offers[1], []);
  } finally {
    await server.close();
  }
});

test("subprotocols: an offer of only empty items counts as none for requireProtocol (400)", async () => {
  const server = await startServer({
    protocols: ["a"],
    requireProtocol: true,
  });
  try {
    const response = await rawUpgrade(server.port, [
      "Sec-WebSocket-Protocol: ,\t,",
    ]);
    assert.equal(response.status, 400);
    assert.equal(response.body, "no acceptable subprotocol offered");
  } finally {
    await server.close();
  }
});

test("subprotocols: whitespace variants and repeated header lines read the same", async () => {
  const { server, offers } = await recordingServer(["b"]);
  const variants = [
    ["Sec-WebSocket-Protocol: a,b"],
    ["Sec-WebSocket-Protocol: a , b"],
    ["Sec-WebSocket-Protocol: a\t,\tb"],
    ["Sec-WebSocket-Protocol:  a ,\t b\t "],
    ["Sec-WebSocket-Protocol: a,,b,"],
    ["Sec-WebSocket-Protocol: a", "Sec-WebSocket-Protocol: b"],
    ["sec-websocket-protocol: a", "SEC-WEBSOCKET-PROTOCOL: b"],
  ];
  try {
    for (const fields of variants) {
      const response = await rawUpgrade(server.port, fields);
      assert.equal(response.status, 101, JSON.stringify(fields));
      assert.equal(protocolOf(response), "b", JSON.stringify(fields));
    }
    for (const offer of offers) assert.deepEqual(offer, ["a", "b"]);
    assert.equal(offers.length, variants.length);
  } finally {
    await server.close();
  }
});

test("subprotocols: names are case-sensitive (MQTT is not mqtt)", async () => {
  const lenient = await startServer({ protocols: ["mqtt"] });
  const strict = await startServer({
    protocols: ["mqtt"],
    requireProtocol: true,
  });
  try {
    const upper = await rawUpgrade(lenient.port, [
      "Sec-WebSocket-Protocol: MQTT",
    ]);
    assert.equal(upper.status, 101);
    assert.equal(protocolOf(upper), undefined);

    const refused = await rawUpgrade(strict.port, [
      "Sec-WebSocket-Protocol: MQTT, Mqtt",
    ]);
    assert.equal(refused.status, 400);

    // Our client may offer both spellings: they are different tokens.
    const ws = await connect(urlOf(strict), ["MQTT", "mqtt"]);
    assert.equal(ws.protocol, "mqtt");
    ws.close();
    await closed(ws);
  } finally {
    await lenient.close();
    await strict.close();
  }
});

test("subprotocols: chooseProtocol picks by server or client preference", async () => {
  const offered = ["v10.stomp", "v11.stomp", "v12.stomp"];
  const supported = ["v12.stomp", "v11.stomp", "v10.stomp"];
  assert.equal(chooseProtocol(offered, supported), "v12.stomp");
  assert.equal(
    chooseProtocol(offered, supported, { preference: "server" }),
    "v12.stomp",
  );
  assert.equal(
    chooseProtocol(offered, supported, { preference: "client" }),
    "v10.stomp",
  );
  assert.equal(chooseProtocol(["x"], supported), "");
  assert.equal(chooseProtocol(["x"], supported, { preference: "client" }), "");
  assert.equal(chooseProtocol([], []), "");
  assert.equal(
    chooseProtocol(["Chat"], ["chat"], { preference: "client" }),
    "",
  );

  const byClient = await startServer({
    protocols: (list) =>
      chooseProtocol(list, supported, { preference: "client" }),
  });
  const byServer = await startServer({ protocols: supported });
  try {
    const a = await connect(urlOf(byClient), ["v11.stomp", "v12.stomp"]);
    const b = await connect(urlOf(byServer), ["v11.stomp", "v12.stomp"]);
    assert.equal(a.protocol, "v11.stomp");
    assert.equal(b.protocol, "v12.stomp");
    a.close();
    b.close();
    await Promise.all([closed(a), closed(b)]);
  } finally {
    await byClient.close();
    await byServer.close();
  }
});

test("subprotocols: the negotiated protocol is exposed on both ends", async () => {
  const seen: string[] = [];
  const server = await startServer({
    protocols: ["graphql-transport-ws", "mqtt"],
    onConnection(socket) {
      seen.push(socket.protocol);
      socket.onmessage = () => socket.send(socket.protocol || "(none)");
    },
  });
  try {
    for (
      const [offer, expected] of [
        [["mqtt", "graphql-transport-ws"], "graphql-transport-ws"],
        [["mqtt"], "mqtt"],
        [["other"], ""],
        [undefined, ""],
      ] as const
    ) {
      const ws = await connect(urlOf(server), offer && [...offer]);
      assert.equal(ws.protocol, expected);
      const reply = once<MessageEvent>(ws, "message");
      ws.send("which?");
      assert.equal((await reply).data, expected || "(none)");
      assert.equal(seen.at(-1), expected);
      ws.close();
      await closed(ws);
    }
  } finally {
    await server.close();
  }
});

test("subprotocols: requireProtocol fails our client with error then close 1006", async () => {
  const server = await startServer({
    protocols: ["v12.stomp"],
    requireProtocol: true,
  });
  try {
    const ws = new WebSocket(urlOf(server), ["v13.stomp"]);
    let opened = false;
    ws.onopen = () => (opened = true);
    const error = once<WebSocketErrorEvent>(ws, "error");
    const event = await closed(ws);
    assert.equal(opened, false);
    assert.equal(event.code, 1006);
    assert.equal(event.wasClean, false);
    assert.match((await error).message, /400/);
    assert.equal(ws.protocol, "");
  } finally {
    await server.close();
  }
});

test("subprotocols: a protocols function that misbehaves gets the client a 500", async () => {
  const wrong = await startServer({ protocols: () => "not-offered" });
  const throws = await startServer({
    protocols: () => {
      throw new Error("bug");
    },
  });
  try {
    const a = await rawUpgrade(wrong.port, ["Sec-WebSocket-Protocol: chat"]);
    assert.equal(a.status, 500);
    assert.match(a.body, /did not offer/);
    const b = await rawUpgrade(throws.port, ["Sec-WebSocket-Protocol: chat"]);
    assert.equal(b.status, 500);
    // And the servers still work for the next client.
    assert.equal(wrong.clients.size, 0);
  } finally {
    await wrong.close();
    await throws.close();
  }
});

/**
 * A raw TCP "server" that answers every upgrade with a 101 carrying
 * `protocolLines` (whole `Sec-WebSocket-Protocol` lines, or none).
 */
async function rawServer(
  protocolLines: string[],
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      text += chunk;
      if (!text.includes("\r\n\r\n")) return;
      const key = /sec-websocket-key:\s*(\S+)/i.exec(text)?.[1] ?? "";
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
          `Connection: Upgrade\r\nSec-WebSocket-Accept: ${
            computeAccept(key)
          }\r\n` +
          protocolLines.map((l) => l + "\r\n").join("") + "\r\n",
      );
      text = "";
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

test("subprotocols: our client fails a server's answer it did not offer (error, then close 1006)", async () => {
  const cases: [string[] | undefined, string[]][] = [
    [["a"], ["Sec-WebSocket-Protocol: b"]],
    [undefined, ["Sec-WebSocket-Protocol: a"]],
    [["chat"], ["Sec-WebSocket-Protocol: Chat"]],
    [["a", "b"], ["Sec-WebSocket-Protocol: a, b"]],
    [["a", "b"], ["Sec-WebSocket-Protocol: a", "Sec-WebSocket-Protocol: b"]],
    [["a"], ["Sec-WebSocket-Protocol:"]],
  ];
  for (const [offer, lines] of cases) {
    const raw = await rawServer(lines);
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${raw.port}/`, offer);
      let opened = false;
      ws.onopen = () => (opened = true);
      const error = once<WebSocketErrorEvent>(ws, "error");
      const event = await closed(ws);
      const what = JSON.stringify([offer, lines]);
      assert.equal(opened, false, what);
      assert.equal(event.code, 1006, what);
      assert.equal(event.wasClean, false, what);
      assert.match((await error).message, /subprotocol/, what);
      assert.equal(ws.readyState, WebSocket.CLOSED, what);
    } finally {
      await raw.close();
    }
  }
});

test("subprotocols: a server may decline every offered protocol (protocol is then empty)", async () => {
  const raw = await rawServer([]);
  try {
    const ws = await connect(`ws://127.0.0.1:${raw.port}/`, ["a", "b"]);
    assert.equal(ws.protocol, "");
    ws.terminate();
    await closed(ws);
  } finally {
    await raw.close();
  }
});

test("subprotocols: our client refuses invalid offers with a SyntaxError, as browsers do", () => {
  for (
    const bad of [["a", "a"], ["a b"], [""], ["a,b"], ["ü"], ["a\tb"], ["(x)"]]
  ) {
    assert.throws(
      () => new WebSocket("ws://127.0.0.1:9/", bad),
      (e: unknown) => e instanceof DOMException && e.name === "SyntaxError",
      JSON.stringify(bad),
    );
  }
});
