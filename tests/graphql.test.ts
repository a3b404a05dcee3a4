/**
 * The GraphQL example (examples/graphql/), driven by the real `graphql-ws`
 * client with wskit's `WebSocket` as its WebSocket implementation: the
 * negotiated subprotocol, queries, mutations and subscriptions, the
 * `connection_init` authentication failures (4403, 4408), the handshake
 * refusal of clients that do not speak `graphql-transport-ws`, and a clean
 * close. One test starts the example as a process on the current runtime.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type Client,
  type ClientOptions,
  createClient,
  type FormattedExecutionResult,
} from "graphql-ws";
import { chromium } from "playwright-core";
import { WebSocket, type WebSocketErrorEvent } from "../mod.ts";
import { startGraphqlServer } from "../examples/graphql/app.ts";
import { closed, connect, inbox, once, until } from "./net_helpers.ts";
import { startExample } from "./process_helpers.ts";

const TOKENS = { "alice-token": "alice", "bob-token": "bob" };

function client(url: string, options: Partial<ClientOptions> = {}): Client {
  return createClient({
    url,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    ...options,
  });
}

/** Runs an operation to completion and resolves with its results' data. */
async function collect(
  c: Client,
  query: string,
  variables?: Record<string, unknown>,
): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const result of c.iterate({ query, variables })) {
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    out.push(result.data);
  }
  return out;
}

/** Resolves with what the operation's sink got as its error (a close event). */
function failure(c: Client, query: string): Promise<{ code: number }> {
  return new Promise((resolve, reject) => {
    c.subscribe({ query }, {
      next: () => reject(new Error("unexpected result")),
      error: (error) => resolve(error as { code: number }),
      complete: () => reject(new Error("unexpected completion")),
    });
  });
}

test("graphql: graphql-ws client over wskit — protocol, query, mutation, subscription, clean close", async () => {
  const app = await startGraphqlServer({ tokens: TOKENS });
  let protocol = "";
  let ack: unknown;
  let closeEvent: { code: number; wasClean: boolean } | undefined;
  const c = client(app.url, {
    connectionParams: { token: "alice-token" },
    lazy: false,
    on: {
      connected(socket, payload) {
        protocol = (socket as WebSocket).protocol;
        ack = payload;
      },
      closed(event) {
        closeEvent = event as { code: number; wasClean: boolean };
      },
    },
  });
  try {
    assert.deepEqual(await collect(c, "{ hello whoami }"), [
      { hello: "world", whoami: "alice" },
    ]);
    assert.equal(protocol, "graphql-transport-ws");
    assert.deepEqual(ack, { user: "alice" });

    // A finite subscription streams every value, then completes.
    assert.deepEqual(
      await collect(
        c,
        "subscription ($n: Int!) { countdown(from: $n) }",
        { n: 3 },
      ),
      [{ countdown: 3 }, { countdown: 2 }, { countdown: 1 }, {
        countdown: 0,
      }],
    );

    // A live subscription receives what a mutation publishes.
    const received: FormattedExecutionResult<
      Record<string, unknown>,
      unknown
    >[] = [];
    const events = c.iterate({
      query: "subscription { messages { text author } }",
    });
    const reading = (async () => {
      for await (const result of events) {
        received.push(result);
        if (received.length === 2) break; // sends `complete`
      }
    })();
    await until(() => app.pubsub.size === 1, "the subscription to start");
    const posted = await collect(
      c,
      'mutation { post(text: "hi there") { id text author } }',
    );
    assert.equal(
      (posted[0] as { post: { text: string } }).post.text,
      "hi there",
    );
    app.pubsub.publish({ id: "x", text: "from the server", author: "system" });
    await reading;
    assert.deepEqual(received.map((r) => r.data), [
      { messages: { text: "hi there", author: "alice" } },
      { messages: { text: "from the server", author: "system" } },
    ]);
    await until(() => app.pubsub.size === 0, "the subscription to end");

    await c.dispose();
    await until(() => closeEvent !== undefined, "the client to close");
    assert.equal(closeEvent!.code, 1000);
    assert.equal(closeEvent!.wasClean, true);
    await until(() => app.server.clients.size === 0, "the server to let go");
  } finally {
    await c.dispose();
    await app.close();
  }
});

test("graphql: a bad token in connection_init is closed with 4403", async () => {
  const app = await startGraphqlServer({ tokens: TOKENS });
  const c = client(app.url, { connectionParams: { token: "wrong" } });
  const none = client(app.url); // no payload at all
  try {
    assert.equal((await failure(c, "{ hello }")).code, 4403);
    assert.equal((await failure(none, "{ hello }")).code, 4403);
  } finally {
    await c.dispose();
    await none.dispose();
    await app.close();
  }
});

test("graphql: a client that never sends connection_init is closed with 4408", async () => {
  const app = await startGraphqlServer({
    tokens: TOKENS,
    connectionInitWaitTimeout: 150,
  });
  // The real client, held back: its connectionParams never resolve, so it
  // opens the socket and stays silent.
  const c = client(app.url, { connectionParams: () => new Promise(() => {}) });
  try {
    assert.equal((await failure(c, "{ hello }")).code, 4408);
    // And at the WebSocket level: the close arrives cleanly, with the reason.
    const ws = await connect(app.url, ["graphql-transport-ws"]);
    const event = await closed(ws);
    assert.deepEqual([event.code, event.reason, event.wasClean], [
      4408,
      "Connection initialisation timeout",
      true,
    ]);
  } finally {
    await c.dispose();
    await app.close();
  }
});

test("graphql: clients without graphql-transport-ws are refused at the handshake (400)", async () => {
  const app = await startGraphqlServer({ tokens: TOKENS });
  try {
    for (const offer of [undefined, ["graphql-ws"], ["GRAPHQL-TRANSPORT-WS"]]) {
      const ws = new WebSocket(app.url, offer);
      const error = once<WebSocketErrorEvent>(ws, "error");
      const event = await closed(ws);
      assert.equal(event.code, 1006);
      assert.match((await error).message, /400/);
    }
    // A binary message breaks the protocol: 4400.
    const ws = await connect(app.url, ["graphql-transport-ws"]);
    const done = closed(ws);
    ws.send(new Uint8Array([1, 2, 3]));
    assert.equal((await done).code, 4400);
  } finally {
    await app.close();
  }
});

test("graphql: the example runs as a process (subscription, 4403, 4408)", async () => {
  const example = await startExample("examples/graphql/server.ts", {
    GRAPHQL_TOKEN: "process-token",
    GRAPHQL_INIT_TIMEOUT: "500",
  });
  const good = client(example.url, {
    connectionParams: { token: "process-token" },
  });
  const bad = client(example.url, { connectionParams: { token: "nope" } });
  try {
    assert.match(example.url, /^ws:\/\/127\.0\.0\.1:\d+\/graphql$/);
    assert.deepEqual(await collect(good, "{ whoami }"), [{ whoami: "demo" }]);
    assert.deepEqual(
      await collect(good, "subscription { countdown(from: 1) }"),
      [{ countdown: 1 }, { countdown: 0 }],
    );
    assert.equal((await failure(bad, "{ hello }")).code, 4403);
    const silent = await connect(example.url, ["graphql-transport-ws"]);
    const box = inbox(silent);
    const event = await closed(silent);
    assert.equal(event.code, 4408);
    assert.equal(box.all.length, 0);
  } finally {
    await good.dispose();
    await bad.dispose();
    await example.stop();
  }
});

/**
 * Runs in the browser page: the graphql-transport-ws exchange by hand over
 * Chromium's own WebSocket (a string, so no transpiler helpers leak in).
 */
const BROWSER_SCRIPT = `async (url) => {
  const open = (token) => new Promise((resolve, reject) => {
    const ws = new WebSocket(url, "graphql-transport-ws");
    const messages = [];
    ws.onmessage = (event) => messages.push(JSON.parse(event.data));
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "connection_init", payload: { token } }));
      resolve({ ws, messages });
    };
    ws.onerror = () => reject(new Error("WebSocket error"));
  });
  const closed = (ws) => new Promise((resolve) => {
    ws.onclose = (event) => resolve({ code: event.code, wasClean: event.wasClean });
  });
  const until = async (check) => {
    while (!check()) await new Promise((r) => setTimeout(r, 5));
  };
  const { ws, messages } = await open("alice-token");
  // The protocol: wait for connection_ack before subscribing.
  await until(() => messages.length > 0 || ws.readyState === WebSocket.CLOSED);
  ws.send(JSON.stringify({
    id: "1",
    type: "subscribe",
    payload: { query: "subscription { countdown(from: 2) }" },
  }));
  await until(() =>
    messages.some((m) => m.type === "complete") ||
    ws.readyState === WebSocket.CLOSED
  );
  const protocol = ws.protocol;
  const done = closed(ws);
  ws.close(1000, "bye");
  const close = await done;
  const bad = await open("bad-token");
  const refused = await closed(bad.ws);
  return { protocol, messages, close, refused };
}`;

test("graphql: headless Chromium's own WebSocket speaks graphql-transport-ws to the example", async () => {
  const app = await startGraphqlServer({ tokens: TOKENS });
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
  try {
    const page = await browser.newPage();
    const result = await page.evaluate(
      `(${BROWSER_SCRIPT})(${JSON.stringify(app.url)})`,
    ) as {
      protocol: string;
      messages: unknown[];
      close: { code: number; wasClean: boolean };
      refused: { code: number; wasClean: boolean };
    };
    assert.equal(result.protocol, "graphql-transport-ws");
    assert.deepEqual(result.messages, [
      { type: "connection_ack", payload: { user: "alice" } },
      { id: "1", type: "next", payload: { data: { countdown: 2 } } },
      { id: "1", type: "next", payload: { data: { countdown: 1 } } },
      { id: "1", type: "next", payload: { data: { countdown: 0 } } },
      { id: "1", type: "complete" },
    ]);
    assert.deepEqual(result.close, { code: 1000, wasClean: true });
    assert.deepEqual(result.refused, { code: 4403, wasClean: true });
  } finally {
    await browser.close();
    await app.close();
  }
});
