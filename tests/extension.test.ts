import { test } from "node:test";
import assert from "node:assert/strict";
import { Connection, type ConnectionEvent } from "../core/connection.ts";
import {
  type Extension,
  type ExtensionNegotiator,
  type ExtensionParams,
  formatExtension,
  parseExtensions,
} from "../core/extension.ts";
import { ProtocolError } from "../core/errors.ts";
import {
  clientFrame,
  closeOf,
  concat,
  feed,
  messages,
  pump,
} from "./helpers.ts";

/** A toy extension: reverses each message's bytes, marking it with RSV2. */
function reverser(name = "x-reverse", rsv = 0b010): ExtensionNegotiator {
  const make = (): Extension & { disposed: boolean } => ({
    name,
    rsv,
    response: name,
    disposed: false,
    encode: (payload) => ({ payload: payload.slice().reverse(), rsv }),
    decode(payload, bits, maxSize) {
      assert.equal(bits, rsv);
      if (payload.length > maxSize) throw new ProtocolError(1009, "too big");
      return payload.slice().reverse();
    },
    dispose() {
      this.disposed = true;
    },
  });
  return {
    name,
    offer: () => `${name}; mode=fast`,
    accept: (params: ExtensionParams) => {
      if (params.params.length > 0) {
        throw new Error("no params allowed in the response");
      }
      return make();
    },
    respond: (offers) =>
      offers.some((o) => o.params.some(([k]) => k === "mode"))
        ? make()
        : undefined,
  };
}

function handshake(
  clientNegotiators: ExtensionNegotiator[],
  serverNegotiators: ExtensionNegotiator[],
): { client: Connection; server: Connection; open: ConnectionEvent } {
  const client = Connection.client("ws://h/", {
    extensionNegotiators: clientNegotiators,
  });
  const server = Connection.server({ extensionNegotiators: serverNegotiators });
  for (const e of pump(client, server)) {
    if (e.type === "request") server.accept();
  }
  const events = pump(server, client);
  return { client, server, open: events[0] };
}

test("extension: parse and format the header grammar", () => {
  assert.deepEqual(
    parseExtensions(
      'permessage-deflate; client_max_window_bits, foo; x="10"; Y=a , bar',
    ),
    [
      {
        name: "permessage-deflate",
        params: [["client_max_window_bits", true]],
      },
      { name: "foo", params: [["x", "10"], ["y", "a"]] },
      { name: "bar", params: [] },
    ],
  );
  assert.equal(parseExtensions("a; b=c d"), undefined);
  assert.equal(parseExtensions('a; b="x y"'), undefined);
  assert.equal(parseExtensions("a b"), undefined);
  assert.equal(parseExtensions("a; =1"), undefined);
  assert.deepEqual(parseExtensions(""), []);
  assert.equal(
    formatExtension({ name: "a", params: [["b", true], ["c", "1"]] }),
    "a; b; c=1",
  );
});

test("extension: negotiated in memory; messages transformed both ways with the RSV bit on the first frame only", () => {
  const { client, server, open } = handshake([reverser()], [reverser()]);
  assert.equal(open.type, "open");
  assert.equal(client.extensions, "x-reverse");
  assert.equal(server.extensions, "x-reverse");
  client.send("abc", { fragmentSize: 2 });
  // The two frames come out packed in one chunk: the first is a 2-byte
  // header, a 4-byte masking key and 2 payload bytes.
  const out = concat(...client.takeOutput());
  const first = out.slice(0, 8);
  const second = out.slice(8);
  assert.equal(first[0] & 0x70, 0x20, "RSV2 on the first frame");
  assert.equal(second[0] & 0x70, 0, "no RSV on the continuation");
  assert.deepEqual(
    messages([...server.receive(first), ...server.receive(second)]),
    ["abc"],
  );
  server.send(new Uint8Array([1, 2, 3]));
  assert.deepEqual(messages(pump(server, client)), [new Uint8Array([1, 2, 3])]);
});

test("extension: the server declines offers its negotiator rejects", () => {
  const client = Connection.client("ws://h/", { extensions: "x-reverse" });
  const server = Connection.server({ extensionNegotiators: [reverser()] });
  for (const e of pump(client, server)) {
    if (e.type === "request") server.accept();
  }
  assert.equal(server.extensions, "");
  const events = pump(server, client);
  assert.equal(events[0].type, "open");
});

test("extension: a response naming an extension not offered fails the handshake", () => {
  const client = Connection.client("ws://h/", { extensions: "other" });
  const server = Connection.server({ extensionNegotiators: [reverser()] });
  for (const e of pump(client, server)) {
    if (e.type === "request") server.accept({ extensions: "x-reverse" });
  }
  const events = pump(server, client);
  const error = events.find((e) => e.type === "error");
  assert.ok(
    error && error.type === "error" && /not offered/.test(error.message),
  );
  assert.equal(closeOf(events).code, 1006);
});

test("extension: invalid parameters in the response fail the handshake", () => {
  const client = Connection.client("ws://h/", {
    extensionNegotiators: [reverser()],
  });
  const server = Connection.server();
  for (const e of pump(client, server)) {
    if (e.type === "request") server.accept({ extensions: "x-reverse; bogus" });
  }
  const events = pump(server, client);
  assert.ok(
    events.some((e) => e.type === "error" && /no params/.test(e.message)),
  );
});

function openServer(): Connection {
  const make = reverser().respond([{
    name: "x-reverse",
    params: [["mode", "fast"]],
  }])!;
  return new Connection({ role: "server", activeExtensions: [make] });
}

test("extension: RSV bits on a continuation frame fail with 1002", () => {
  const s = openServer();
  const events = feed(
    s,
    concat(
      clientFrame(2, "a", { fin: false, rsv: 2 }),
      clientFrame(0, "b", { rsv: 2 }),
    ),
  );
  assert.equal(closeOf(events).code, 1002);
});

test("extension: RSV bits on a control frame fail with 1002", () => {
  const s = openServer();
  assert.equal(closeOf(feed(s, clientFrame(9, "p", { rsv: 2 }))).code, 1002);
});

test("extension: RSV bits it does not own still fail with 1002", () => {
  const s = openServer();
  assert.equal(closeOf(feed(s, clientFrame(2, "p", { rsv: 4 }))).code, 1002);
});

test("extension: transformed text is validated whole (1007)", () => {
  const s = openServer();
  const bad = new Uint8Array([0x61, 0xff]).reverse();
  assert.equal(closeOf(feed(s, clientFrame(1, bad, { rsv: 2 }))).code, 1007);
  const ok = openServer();
  const euro = new TextEncoder().encode("x€").reverse();
  assert.deepEqual(messages(feed(ok, clientFrame(1, euro, { rsv: 2 }))), [
    "x€",
  ]);
});

test("extension: the decoded size is bounded by maxMessageSize (1009) and state is disposed on close", () => {
  const ext = reverser().respond([{
    name: "x-reverse",
    params: [["mode", "1"]],
  }])! as Extension & {
    disposed: boolean;
  };
  const s = new Connection({
    role: "server",
    activeExtensions: [ext],
    maxMessageSize: 10,
  });
  assert.deepEqual(
    messages(feed(s, clientFrame(2, new Uint8Array(10), { rsv: 2 }))).length,
    1,
  );
  assert.equal(ext.disposed, false);
  s.close(1000);
  feed(s, clientFrame(8));
  assert.equal(ext.disposed, true);
});
