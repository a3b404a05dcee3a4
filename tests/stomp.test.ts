/**
 * The STOMP example (examples/stomp/): its frame codec, and its broker
 * driven by the real `@stomp/stompjs` client with wskit's `WebSocket` as the
 * client's `webSocketFactory` — version and subprotocol negotiation,
 * subscribe/send/receive, header escaping, binary bodies, ack modes,
 * transactions, receipts, heart-beats both ways, ERROR frames and
 * DISCONNECT. One test starts the example as a process.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  Client,
  type IFrame,
  type IMessage,
  type StompConfig,
  Versions,
} from "@stomp/stompjs";
import { WebSocket, type WebSocketServer } from "../mod.ts";
import {
  type BrokerOptions,
  STOMP_SUBPROTOCOLS,
  StompBroker,
} from "../examples/stomp/broker.ts";
import {
  escapeHeader,
  FrameParser,
  header,
  type ParsedItem,
  serializeFrame,
  type StompFrame,
  StompSyntaxError,
  unescapeHeader,
} from "../examples/stomp/frame.ts";
import { closed, connect, startServer, until } from "./net_helpers.ts";
import { startExample } from "./process_helpers.ts";

const utf8 = new TextEncoder();

async function startBroker(
  options: BrokerOptions = {},
): Promise<{ server: WebSocketServer; broker: StompBroker; url: string }> {
  const broker = new StompBroker({ heartBeat: [0, 0], ...options });
  const server = await startServer({
    path: "/stomp",
    protocols: STOMP_SUBPROTOCOLS,
    onConnection: (socket) => broker.handle(socket),
  });
  return { server, broker, url: `ws://127.0.0.1:${server.port}/stomp` };
}

interface Connected {
  client: Client;
  connected: IFrame;
  socket: WebSocket;
  /** Resolves with the close event of the WebSocket. */
  closed: Promise<CloseEvent>;
}

/** Activates a stompjs client over wskit's WebSocket; resolves on CONNECTED. */
function stomp(
  url: string,
  config: Partial<StompConfig> = {},
  protocols: string[] = [...STOMP_SUBPROTOCOLS],
): Promise<Connected> {
  let socket: WebSocket | undefined;
  let closedResolve: (event: CloseEvent) => void = () => {};
  const closedPromise = new Promise<CloseEvent>((r) => (closedResolve = r));
  return new Promise((resolve, reject) => {
    const client = new Client({
      webSocketFactory: () => (socket = new WebSocket(url, protocols)),
      reconnectDelay: 0,
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      ...config,
      onConnect: (frame) => {
        config.onConnect?.(frame);
        resolve({
          client,
          connected: frame,
          socket: socket!,
          closed: closedPromise,
        });
      },
      onStompError: (frame) => {
        config.onStompError?.(frame);
        reject(new Error(`STOMP ERROR: ${frame.headers.message}`));
      },
      onWebSocketClose: (event) => {
        config.onWebSocketClose?.(event);
        closedResolve(event);
        reject(new Error(`closed ${event.code}`));
      },
    });
    client.activate();
  });
}

/** A message inbox fed by a stompjs subscription callback. */
function mailbox(): {
  callback: (message: IMessage) => void;
  next(): Promise<IMessage>;
  all: IMessage[];
} {
  const all: IMessage[] = [];
  const waiting: ((m: IMessage) => void)[] = [];
  let read = 0;
  return {
    all,
    callback(message) {
      all.push(message);
      const w = waiting.shift();
      if (w) w(all[read++]);
    },
    next() {
      if (read < all.length) return Promise.resolve(all[read++]);
      return new Promise((r) => waiting.push(r));
    },
  };
}

function receipt(client: Client, id: string): Promise<IFrame> {
  return new Promise((resolve) => client.watchForReceipt(id, resolve));
}

// ---- the frame codec ----

test("stomp: frame codec — escaping, CRLF, content-length bodies with NULs, heart-beats", () => {
  assert.equal(escapeHeader("a:b\nc\\d\re", "1.2"), "a\\cb\\nc\\\\d\\re");
  assert.equal(escapeHeader("a\re", "1.1"), "a\re");
  assert.equal(unescapeHeader("a\\cb\\nc\\\\d\\re", "1.2"), "a:b\nc\\d\re");
  assert.throws(() => unescapeHeader("a\\t", "1.2"), StompSyntaxError);
  assert.throws(() => unescapeHeader("a\\r", "1.1"), StompSyntaxError);
  assert.throws(() => unescapeHeader("trailing\\", "1.2"), StompSyntaxError);

  const parser = new FrameParser();
  const items = parser.push(
    "\n\r\nSEND\r\ndestination:/q\\c1\r\nx:1\r\nx:2\r\ncontent-length:3\r\n\r\na\0b\0\n" +
      "CONNECT\nlogin:a\\cb\n\n\0",
  );
  assert.deepEqual(items.map((i) => i.type), [
    "heartbeat",
    "heartbeat",
    "frame",
    "heartbeat",
    "frame",
  ]);
  const send = (items[2] as { frame: StompFrame }).frame;
  assert.equal(send.command, "SEND");
  assert.equal(header(send, "destination"), "/q:1");
  assert.equal(header(send, "x"), "1"); // the first of repeated headers
  assert.deepEqual([...send.body], [97, 0, 98]);
  // CONNECT is never unescaped.
  const conn = (items[4] as { frame: StompFrame }).frame;
  assert.equal(header(conn, "login"), "a\\cb");

  assert.throws(
    () => new FrameParser().push("SEND\ncontent-length:1\n\nab\0"),
    /longer than its content-length/,
  );
  assert.throws(
    () => new FrameParser().push("SEND\ncontent-length:x\n\n\0"),
    /invalid content-length/,
  );
  assert.throws(
    () => new FrameParser().push("SEND\nnocolon\n\n\0"),
    /malformed/,
  );
  assert.throws(
    () =>
      new FrameParser({ maxFrameSize: 10 }).push("SEND\n\n" + "x".repeat(20)),
    /larger than/,
  );
});

test("stomp: frame codec — any chunking parses the same (property)", () => {
  const headerText = fc.string({ unit: "grapheme", maxLength: 8 });
  const frameArb = fc.record({
    command: fc.constantFrom("SEND", "MESSAGE", "ACK", "ERROR"),
    headers: fc.array(
      fc.tuple(headerText.filter((s) => s !== ""), headerText),
      {
        maxLength: 4,
      },
    ),
    body: fc.uint8Array({ maxLength: 40 }),
    beats: fc.nat(2),
  });
  fc.assert(
    fc.property(
      fc.array(frameArb, { minLength: 1, maxLength: 4 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      (frames, cuts) => {
        const parts: Uint8Array[] = [];
        for (const f of frames) {
          parts.push(new Uint8Array(f.beats).fill(0x0a));
          parts.push(serializeFrame(
            { command: f.command, headers: f.headers, body: f.body },
            "1.2",
          ));
        }
        const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of parts) {
          all.set(p, at);
          at += p.length;
        }
        const positions = [...new Set(cuts.map((c) => c % (all.length + 1)))]
          .sort((a, b) => a - b);
        const parser = new FrameParser();
        const items: ParsedItem[] = [];
        let last = 0;
        for (const p of [...positions, all.length]) {
          items.push(...parser.push(all.slice(last, p)));
          last = p;
        }
        const got = items.filter((i) => i.type === "frame").map((i) =>
          (i as { frame: StompFrame }).frame
        );
        assert.equal(got.length, frames.length);
        got.forEach((g, i) => {
          assert.equal(g.command, frames[i].command);
          assert.deepEqual([...g.body], [...frames[i].body]);
          const expected = frames[i].body.length > 0
            ? [...frames[i].headers, [
              "content-length",
              String(frames[i].body.length),
            ]]
            : frames[i].headers;
          assert.deepEqual(g.headers, expected);
        });
        assert.equal(
          items.filter((i) => i.type === "heartbeat").length,
          frames.reduce((n, f) => n + f.beats, 0),
        );
      },
    ),
  );
});

// ---- the broker, with @stomp/stompjs over wskit ----

test("stomp: stompjs over wskit — v12.stomp, subscribe, send, receive, escaping, binary, receipts, disconnect", async () => {
  const { server, broker, url } = await startBroker();
  try {
    const { client, connected, socket, closed: wsClosed } = await stomp(url);
    assert.equal(socket.protocol, "v12.stomp");
    assert.equal(connected.headers.version, "1.2");
    assert.equal(connected.headers["heart-beat"], "0,0");
    assert.match(connected.headers.session, /^s\d+$/);

    const box = mailbox();
    const subscribed = receipt(client, "sub-1");
    const sub = client.subscribe("/topic/chat", box.callback, {
      receipt: "sub-1",
    });
    await subscribed;
    assert.equal(broker.subscriberCount("/topic/chat"), 1);

    const sent = receipt(client, "send-1");
    client.publish({
      destination: "/topic/chat",
      body: "hello ✓",
      headers: {
        receipt: "send-1",
        "x-note": "a:b\nc\\d",
        "content-type": "text/plain",
      },
    });
    await sent;
    const message = await box.next();
    assert.equal(message.body, "hello ✓");
    assert.equal(message.headers.destination, "/topic/chat");
    assert.equal(message.headers.subscription, sub.id);
    assert.match(message.headers["message-id"], /^m\d+$/);
    assert.equal(message.headers["x-note"], "a:b\nc\\d");
    assert.equal(message.headers["content-type"], "text/plain");
    assert.equal(
      message.headers["content-length"],
      String(utf8.encode("hello ✓").length),
    );
    assert.equal(message.headers.receipt, undefined);

    const bytes = new Uint8Array([0, 1, 2, 0, 255]);
    client.publish({ destination: "/topic/chat", binaryBody: bytes });
    assert.deepEqual([...(await box.next()).binaryBody], [...bytes]);

    // Other destinations are not delivered to this subscription.
    client.publish({ destination: "/topic/other", body: "no" });
    const unsub = receipt(client, "unsub-1");
    sub.unsubscribe({ receipt: "unsub-1" });
    await unsub;
    assert.equal(broker.subscriberCount("/topic/chat"), 0);
    assert.equal(box.all.length, 2);

    // DISCONNECT with a receipt, then the connection closes cleanly.
    let disconnected: IFrame | undefined;
    client.onDisconnect = (frame) => (disconnected = frame);
    await client.deactivate();
    const event = await wsClosed;
    assert.equal(event.code, 1000);
    assert.equal(event.wasClean, true);
    await until(() => disconnected !== undefined, "the DISCONNECT receipt");
    assert.match(disconnected!.headers["receipt-id"], /^close-/);
    await until(() => server.clients.size === 0, "the server to let go");
  } finally {
    await server.close();
  }
});

test("stomp: client-individual acks on a queue — NACK redelivers, unacked messages survive a disconnect", async () => {
  const { server, broker, url } = await startBroker();
  try {
    const producer = await stomp(url);
    for (const body of ["one", "two", "three"]) {
      producer.client.publish({ destination: "/queue/work", body });
    }
    await until(() => broker.queued("/queue/work") === 3, "queued messages");

    const first = await stomp(url);
    const box = mailbox();
    first.client.subscribe("/queue/work", box.callback, {
      ack: "client-individual",
    });
    const [one, two, three] = [
      await box.next(),
      await box.next(),
      await box.next(),
    ];
    assert.deepEqual([one.body, two.body, three.body], ["one", "two", "three"]);
    assert.ok(
      one.headers.ack !== undefined && one.headers.ack !== two.headers.ack,
    );

    two.ack();
    one.nack(); // back to the queue: redelivered to the only subscriber
    const again = await box.next();
    assert.equal(again.body, "one");
    assert.notEqual(again.headers.ack, one.headers.ack);
    const acked = receipt(first.client, "acked");
    again.ack({ receipt: "acked" });
    await acked; // (terminate() below may drop writes not yet sent)
    // "three" stays unacknowledged; the connection drops without DISCONNECT.
    first.socket.terminate();
    await first.closed.catch(() => {});
    await until(() => broker.queued("/queue/work") === 1, "the requeue");

    const second = await stomp(url);
    const box2 = mailbox();
    second.client.subscribe("/queue/work", box2.callback);
    assert.equal((await box2.next()).body, "three");
    assert.equal(broker.queued("/queue/work"), 0);
    await second.client.deactivate();
    await producer.client.deactivate();
  } finally {
    await server.close();
  }
});

test("stomp: client (cumulative) ack and transactions", async () => {
  const { server, broker, url } = await startBroker();
  try {
    const { client } = await stomp(url);
    const box = mailbox();
    const subscribed = receipt(client, "s");
    client.subscribe("/queue/jobs", box.callback, {
      ack: "client",
      receipt: "s",
    });
    await subscribed;

    // Sends inside a transaction are held until COMMIT; ABORT drops them.
    const aborted = client.begin("tx-a");
    client.publish({
      destination: "/queue/jobs",
      body: "dropped",
      headers: { transaction: aborted.id },
    });
    aborted.abort();
    const tx = client.begin("tx-1");
    for (const body of ["a", "b", "c"]) {
      client.publish({
        destination: "/queue/jobs",
        body,
        headers: { transaction: tx.id },
      });
    }
    const beforeCommit = receipt(client, "probe");
    client.publish({
      destination: "/topic/nothing",
      body: "",
      headers: { receipt: "probe" },
    });
    await beforeCommit;
    assert.equal(box.all.length, 0);
    tx.commit();
    const [, , c] = [await box.next(), await box.next(), await box.next()];
    assert.deepEqual(box.all.map((m) => m.body), ["a", "b", "c"]);

    // Acking "c" in client mode acknowledges "a" and "b" too.
    const acked = receipt(client, "ack-c");
    c.ack({ receipt: "ack-c" });
    await acked;
    await client.deactivate();
    await until(() => server.clients.size === 0, "the close");
    assert.equal(broker.queued("/queue/jobs"), 0);
  } finally {
    await server.close();
  }
});

test("stomp: heart-beats flow both ways at the negotiated intervals", async () => {
  const { server, broker, url } = await startBroker({ heartBeat: [50, 200] });
  try {
    let beats = 0;
    const { client, connected } = await stomp(url, {
      // broker → client every max(50, 100) ms, client → broker every
      // max(50, 200) ms; generous, so a slow machine does not drop it.
      heartbeatIncoming: 100,
      heartbeatOutgoing: 50,
      onHeartbeatReceived: () => beats++,
    });
    // CONNECTED tells the broker's own values; each side uses the max.
    assert.equal(connected.headers["heart-beat"], "50,200");
    await until(
      () => beats >= 2 && broker.stats.heartbeatsReceived >= 2,
      "heart-beats both ways",
    );
    assert.ok(broker.stats.heartbeatsSent >= 2);
    assert.equal(client.connected, true);
    await client.deactivate();
  } finally {
    await server.close();
  }
});

test("stomp: a client that promised heart-beats and went silent is closed (4000)", async () => {
  const { server } = await startBroker({ heartBeat: [0, 10] });
  try {
    const ws = await connect(`ws://127.0.0.1:${server.port}/stomp`, [
      "v12.stomp",
    ]);
    const done = closed(ws);
    ws.send("CONNECT\naccept-version:1.2\nhost:x\nheart-beat:10,0\n\n\0");
    const event = await done;
    assert.equal(event.code, 4000);
    assert.equal(event.reason, "no heart-beat from the client");
  } finally {
    await server.close();
  }
});

/** Sends raw frames on a fresh socket; resolves with the frames received and the close. */
async function raw(
  url: string,
  frames: string[],
  protocols: string[] = ["v12.stomp"],
): Promise<{ frames: StompFrame[]; code: number }> {
  const ws = await connect(url, protocols);
  const parser = new FrameParser();
  const got: StompFrame[] = [];
  ws.onmessage = (event) => {
    for (const item of parser.push(event.data)) {
      if (item.type === "frame") got.push(item.frame);
    }
  };
  const done = closed(ws);
  for (const f of frames) ws.send(f);
  const event = await done;
  return { frames: got, code: event.code };
}

test("stomp: bad input gets an ERROR frame, then the connection closes", async () => {
  const { server, url } = await startBroker();
  const CONNECT = "CONNECT\naccept-version:1.2\nhost:x\n\n\0";
  try {
    const cases: [string[], RegExp, string?][] = [
      [["SEND\ndestination:/q\n\nhi\0"], /expected CONNECT, got SEND/],
      [["CONNECT\naccept-version:2.0\n\n\0"], /unsupported STOMP version/],
      [[CONNECT, "FLY\nreceipt:r-9\n\n\0"], /unknown command FLY/, "r-9"],
      [
        [CONNECT, "SUBSCRIBE\ndestination:/q\n\n\0"],
        /SUBSCRIBE needs a id header/,
      ],
      [
        [CONNECT, "SEND\n\nno destination\0"],
        /SEND needs a destination header/,
      ],
      [[CONNECT, "SEND\ndestination:/q\\t\n\n\0"], /malformed frame/],
      [
        [CONNECT, "SEND\ndestination:/q\ncontent-length:1\n\nabc\0"],
        /malformed frame/,
      ],
      [[CONNECT, "ACK\nid:nope\n\n\0"], /no unacknowledged message nope/],
      [[CONNECT, "UNSUBSCRIBE\nid:zz\n\n\0"], /no subscription with id zz/],
      [[CONNECT, "COMMIT\ntransaction:t\n\n\0"], /no transaction t/],
      [[CONNECT, CONNECT], /already connected/],
      [
        [CONNECT, "SUBSCRIBE\nid:1\ndestination:/q\nack:sometimes\n\n\0"],
        /invalid ack mode/,
      ],
    ];
    for (const [frames, pattern, receiptId] of cases) {
      const result = await raw(url, frames);
      const error = result.frames.at(-1)!;
      assert.equal(error.command, "ERROR", JSON.stringify(frames));
      assert.match(
        header(error, "message")! + " " + new TextDecoder().decode(error.body),
        pattern,
      );
      assert.equal(header(error, "receipt-id"), receiptId);
      assert.equal(result.code, 1000);
    }
    // An unsupported version is told which ones are.
    const versions = await raw(url, ["CONNECT\naccept-version:2.0\n\n\0"]);
    assert.equal(header(versions.frames[0], "version"), "1.2,1.1,1.0");
  } finally {
    await server.close();
  }
});

test("stomp: the version follows the subprotocol and accept-version", async () => {
  const { server, url } = await startBroker({ heartBeat: [5000, 5000] });
  try {
    const all = "CONNECT\naccept-version:1.0,1.1,1.2\nhost:x\n\n\0";
    const v11 = await raw(url, [all, "DISCONNECT\nreceipt:bye\n\n\0"], [
      "v11.stomp",
    ]);
    assert.equal(header(v11.frames[0], "version"), "1.1");
    assert.equal(header(v11.frames[0], "heart-beat"), "5000,5000");
    assert.equal(header(v11.frames[1], "receipt-id"), "bye");
    const v10 = await raw(url, ["CONNECT\n\n\0", "DISCONNECT\n\n\0"], []);
    assert.equal(header(v10.frames[0], "version"), "1.0");
    assert.equal(header(v10.frames[0], "heart-beat"), undefined);

    // stompjs limited to 1.1 negotiates v11.stomp and STOMP 1.1.
    const { client, socket, connected } = await stomp(url, {
      stompVersions: new Versions(["1.1"]),
    }, ["v11.stomp"]);
    assert.equal(socket.protocol, "v11.stomp");
    assert.equal(connected.headers.version, "1.1");
    const box = mailbox();
    client.subscribe("/topic/t", box.callback, { ack: "client" });
    const subscribed = receipt(client, "r");
    client.publish({
      destination: "/topic/t",
      body: "x",
      headers: { receipt: "r" },
    });
    await subscribed;
    const message = await box.next();
    assert.equal(message.headers.ack, undefined); // 1.1 acks by message-id
    const acked = receipt(client, "a");
    message.ack({ receipt: "a" });
    await acked;
    await client.deactivate();
  } finally {
    await server.close();
  }
});

test("stomp: the example runs as a process", async () => {
  const example = await startExample("examples/stomp/server.ts", {
    STOMP_HEARTBEAT: "1000,2000",
  });
  try {
    assert.match(example.url, /^ws:\/\/127\.0\.0\.1:\d+\/stomp$/);
    const { client, connected, socket } = await stomp(example.url, {
      heartbeatIncoming: 1000,
      heartbeatOutgoing: 1000,
    });
    assert.equal(socket.protocol, "v12.stomp");
    assert.equal(connected.headers["heart-beat"], "1000,2000");
    const box = mailbox();
    client.subscribe("/queue/p", box.callback, { ack: "client-individual" });
    client.publish({ destination: "/queue/p", body: "from a process" });
    const message = await box.next();
    assert.equal(message.body, "from a process");
    message.ack();
    await client.deactivate();
  } finally {
    await example.stop();
  }
});
