/**
 * The streams adapter (a WebSocket over any ReadableStream/WritableStream
 * pair) and the streams API (WebSocketStream), on the current runtime: over
 * in-memory pipes, and over TCP through the runtime adapter.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  acceptStream,
  connectStream,
  memoryPipe,
  openStream,
  type StreamPair,
  streamTransport,
} from "../streams.ts";
import type { Transport } from "../adapters/transport.ts";
import { WebSocket, WebSocketError, WebSocketStream } from "../mod.ts";
import { closed, inbox, once, startEcho, until, urlOf } from "./net_helpers.ts";

/** Lets timers and I/O run for `turns` macrotask turns. */
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((r) => setTimeout(r, 0));
}

/** A connected client and server over a memory pipe, both open. */
async function pipePair(
  serverOptions: Parameters<typeof acceptStream>[1] = {},
  clientOptions: Parameters<typeof connectStream>[2] = {},
): Promise<{ client: WebSocket; server: WebSocket }> {
  const [a, b] = memoryPipe();
  const accepted = acceptStream(b, serverOptions);
  const client = connectStream(a, "ws://pipe.test/", clientOptions);
  client.binaryType = "uint8array";
  await once(client, "open");
  const server = await accepted;
  server.binaryType = "uint8array";
  return { client, server };
}

/** Records what a transport reports. */
function watch(transport: Transport) {
  const chunks: Uint8Array[] = [];
  let drains = 0;
  let closes = 0;
  let resolveClosed!: (error: Error | undefined) => void;
  const closedPromise = new Promise<Error | undefined>((r) =>
    resolveClosed = r
  );
  transport.handlers = {
    data: (chunk) => chunks.push(chunk),
    drain: () => drains++,
    close: (error) => {
      closes++;
      resolveClosed(error);
    },
  };
  return {
    closed: closedPromise,
    text: () => chunks.map((c) => new TextDecoder().decode(c)).join(""),
    get drains() {
      return drains;
    },
    get closes() {
      return closes;
    },
  };
}

const bytes = (text: string) => new TextEncoder().encode(text);

test("streams: a client and a server over a memory pipe negotiate, exchange text and binary, and close cleanly", async () => {
  const { client, server } = await pipePair(
    { protocols: ["v2", "v1"] },
    { protocols: ["v1", "v2"] },
  );
  assert.equal(client.protocol, "v2");
  assert.equal(server.protocol, "v2");
  assert.equal(client.url, "ws://pipe.test/");
  const fromClient = inbox(server);
  const fromServer = inbox(client);
  client.send("héllo");
  client.send(new Uint8Array([0, 1, 255]));
  assert.equal(await fromClient.next(), "héllo");
  assert.deepEqual(await fromClient.next(), new Uint8Array([0, 1, 255]));
  server.send("back");
  server.send(new Uint8Array(70000).fill(7));
  assert.equal(await fromServer.next(), "back");
  assert.deepEqual(await fromServer.next(), new Uint8Array(70000).fill(7));
  const clientClosed = closed(client);
  const serverClosed = closed(server);
  client.close(4001, "bye");
  const [c, s] = await Promise.all([clientClosed, serverClosed]);
  assert.deepEqual([c.code, c.reason, c.wasClean], [4001, "bye", true]);
  assert.deepEqual([s.code, s.reason, s.wasClean], [4001, "bye", true]);
});

test("streams: acceptStream runs the server hooks and rejects with the HTTP status; the client sees 1006", async () => {
  for (
    const [options, path, status] of [
      [{ path: "/only" }, "/other", "404"],
      [{ authenticate: () => false }, "/", "401"],
      [{ protocols: ["x"], requireProtocol: true }, "/", "400"],
    ] as const
  ) {
    const [a, b] = memoryPipe();
    const accepted = acceptStream(b, options);
    const client = connectStream(a, `ws://pipe.test${path}`);
    const errors: string[] = [];
    client.addEventListener(
      "error",
      (e) => errors.push((e as { message?: string }).message ?? ""),
    );
    const event = await closed(client);
    assert.equal(event.code, 1006);
    assert.equal(event.wasClean, false);
    assert.equal(errors.length, 1);
    await assert.rejects(accepted, new RegExp(`HTTP/1.1 ${status}`));
  }
});

test("streams: acceptStream holds messages until the caller has set its handlers", async () => {
  const [a, b] = memoryPipe();
  const client = connectStream(a);
  client.onopen = () => client.send("first");
  const server = await acceptStream(b);
  const box = inbox(server);
  assert.equal(await box.next(), "first");
  client.close();
  await closed(server);
});

test("streams: openStream starts OPEN over a stream whose handshake happened elsewhere", async () => {
  const [a, b] = memoryPipe();
  const client = openStream(a, { role: "client", protocol: "tunnel" });
  const server = openStream(b, { role: "server", protocol: "tunnel" });
  assert.equal(client.readyState, WebSocket.OPEN);
  assert.equal(server.protocol, "tunnel");
  server.binaryType = "uint8array";
  const box = inbox(server);
  client.send("no handshake needed");
  client.send(new Uint8Array([9]));
  assert.equal(await box.next(), "no handshake needed");
  assert.deepEqual(await box.next(), new Uint8Array([9]));
  const done = Promise.all([closed(client), closed(server)]);
  server.close(1000);
  for (const event of await done) assert.equal(event.wasClean, true);
});

test("streams: a transport writes only when the sink is ready, counts what waits, and reports drain", async () => {
  const written: Uint8Array[] = [];
  let release!: () => void;
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      written.push(chunk);
      return new Promise<void>((r) => (release = r));
    },
  }, { highWaterMark: 1 });
  const transport = streamTransport(
    { readable: new ReadableStream(), writable },
    { highWaterMark: 100 },
  );
  const watcher = watch(transport);
  assert.equal(transport.write(new Uint8Array(60)), true);
  await turns(1);
  assert.equal(written.length, 1);
  // The sink holds the first chunk: the next ones wait in the transport.
  assert.equal(transport.write(new Uint8Array(30000)), false);
  assert.equal(transport.write(new Uint8Array(40000)), false);
  assert.equal(transport.buffered, 70060);
  await turns(3);
  assert.ok(written.length <= 2, "no write while the sink is busy");
  while (transport.buffered > 0) {
    release();
    await turns(1);
  }
  assert.equal(written.reduce((n, c) => n + c.byteLength, 0), 70060);
  assert.ok(watcher.drains >= 1);
  transport.destroy();
  assert.equal(await watcher.closed, undefined);
  assert.equal(watcher.closes, 1);
});

test("streams: a paused transport issues no read until resumed, and holds what a read returned", async () => {
  let pulls = 0;
  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      await turns(1); // data arrives as I/O does, one task at a time
      pulls++;
      controller.enqueue(bytes(`chunk${pulls}`));
    },
  }, { highWaterMark: 0 });
  const transport = streamTransport({
    readable,
    writable: new WritableStream(),
  });
  const watcher = watch(transport);
  await until(() => watcher.text().length > 0, "some data");
  transport.pause();
  await turns(2);
  const seen = watcher.text();
  const pullsWhenPaused = pulls;
  await turns(5);
  assert.equal(watcher.text(), seen, "nothing delivered while paused");
  assert.ok(pulls <= pullsWhenPaused + 1, "at most the pending read finished");
  transport.resume();
  await until(() => watcher.text().length > seen.length, "data after resume");
  assert.ok(watcher.text().startsWith(seen));
  transport.destroy();
  await watcher.closed;
});

test("streams: the peer's EOF flushes what is queued, closes the writable and reports close once", async () => {
  const [a, b] = memoryPipe();
  const transport = streamTransport(a);
  const watcher = watch(transport);
  transport.write(bytes("last words"));
  const peerWriter = b.writable.getWriter();
  await peerWriter.close(); // EOF towards `transport`
  let received = "";
  for await (
    const chunk of b.readable as unknown as AsyncIterable<Uint8Array>
  ) {
    received += new TextDecoder().decode(chunk);
  }
  assert.equal(await watcher.closed, undefined);
  assert.equal(watcher.closes, 1);
  assert.equal(received, "last words", "flushed, then the readable ended");
});

test("streams: end() closes the writable and finishes when the peer ends its side", async () => {
  const [a, b] = memoryPipe();
  const left = streamTransport(a);
  const right = streamTransport(b);
  const leftWatch = watch(left);
  const rightWatch = watch(right);
  left.write(bytes("one"));
  left.write(bytes("two"));
  left.end();
  assert.equal(left.write(bytes("ignored")), false);
  assert.equal(await rightWatch.closed, undefined);
  assert.equal(await leftWatch.closed, undefined);
  assert.equal(rightWatch.text(), "onetwo");
  assert.deepEqual([leftWatch.closes, rightWatch.closes], [1, 1]);
});

test("streams: a transport that is destroyed is reported closed to the peer as an abnormal closure", async () => {
  const { client, server } = await pipePair();
  const serverClosed = closed(server);
  const clientClosed = closed(client);
  client.terminate();
  const [s, c] = await Promise.all([serverClosed, clientClosed]);
  assert.deepEqual([s.code, s.wasClean], [1006, false]);
  assert.deepEqual([c.code, c.wasClean], [1006, false]);
});

test("streams: a readable that fails closes the transport with its error", async () => {
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.error(new Error("cable cut"));
    },
  });
  const transport = streamTransport({
    readable,
    writable: new WritableStream(),
  });
  const watcher = watch(transport);
  const error = await watcher.closed;
  assert.equal(error?.message, "cable cut");
});

test("websocket stream: over TCP on this runtime, opened gives streams that echo, and for await reads them", async () => {
  const server = await startEcho({ protocols: ["chat"] });
  try {
    const wss = new WebSocketStream(urlOf(server, "/room"), {
      protocols: ["chat"],
    });
    assert.equal(wss.url, urlOf(server, "/room"));
    const { readable, writable, protocol, extensions } = await wss.opened;
    assert.equal(protocol, "chat");
    assert.equal(extensions, "");
    const writer = writable.getWriter();
    await writer.write("text");
    await writer.write(new Uint8Array([1, 2]));
    await writer.write(new Uint16Array([0x0201]).buffer);
    const got: unknown[] = [];
    for await (const message of readable) {
      got.push(message);
      if (got.length === 3) wss.close({ closeCode: 4002, reason: "enough" });
    }
    assert.deepEqual(got, [
      "text",
      new Uint8Array([1, 2]),
      new Uint8Array([1, 2]),
    ]);
    assert.deepEqual(await wss.closed, { closeCode: 4002, reason: "enough" });
    await assert.rejects(writer.write("late"));
  } finally {
    await server.close();
  }
});

test("websocket stream: a slow reader pauses the transport, so the sender is held back, and nothing is lost", async () => {
  const [a, b] = memoryPipe({ highWaterMark: 16 * 1024 });
  let pulled = 0;
  const counted: StreamPair = {
    readable: a.readable.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          pulled += chunk.byteLength;
          controller.enqueue(chunk);
        },
      }),
    ),
    writable: a.writable,
  };
  const accepted = acceptStream(b);
  const wss = new WebSocketStream(connectStream(counted), {
    readableHighWaterMark: 8 * 1024,
  });
  const { readable } = await wss.opened;
  const server = await accepted;
  const count = 400;
  const size = 1024;
  for (let i = 0; i < count; i++) {
    server.send(new Uint8Array(size).fill(i & 0xff));
  }
  const total = count * (size + 4);
  await until(() => pulled > 8 * 1024, "the first messages");
  await turns(5);
  const settled = pulled;
  await turns(20);
  assert.equal(pulled, settled, "no reading while the reader is behind");
  assert.ok(settled < total / 4, `only ${settled} of ${total} bytes read`);
  assert.ok(server.bufferedAmount > 0, "the sender holds the rest");
  let n = 0;
  for await (const message of readable) {
    assert.deepEqual(message, new Uint8Array(size).fill(n & 0xff));
    if (++n === count) break;
  }
  assert.equal(n, count);
  await wss.closed;
});

test("websocket stream: a write waits for drain while the send buffer is over its high-water mark", async () => {
  const [a, b] = memoryPipe({ highWaterMark: 1024 });
  const accepted = acceptStream(b);
  const wss = new WebSocketStream(connectStream(a, undefined, {
    highWaterMark: 4096,
  }));
  const { writable } = await wss.opened;
  const server = await accepted;
  server.pauseReading();
  const writer = writable.getWriter();
  // The server's pending read may still take one chunk; after that the
  // pipe fills, the socket's send buffer grows, and writes wait.
  let done = 0;
  const writes = [1, 2, 3, 4].map((n) =>
    writer.write(new Uint8Array(64 * 1024).fill(n)).then(() => done++)
  );
  await turns(10);
  assert.ok(done < 4, `held while nothing drains (${done} of 4 done)`);
  const box = inbox(server);
  server.binaryType = "uint8array";
  server.resumeReading();
  await Promise.all(writes);
  for (const n of [1, 2, 3, 4]) {
    assert.deepEqual(await box.next(), new Uint8Array(64 * 1024).fill(n));
  }
  wss.close();
  await wss.closed;
});

test("websocket stream: a failed connection rejects opened and closed with a WebSocketError (1006)", async () => {
  const server = await startEcho();
  const url = urlOf(server);
  await server.close(); // nothing listens there now
  const wss = new WebSocketStream(url);
  const error = await wss.opened.then(() => undefined, (e) => e);
  assert.ok(error instanceof WebSocketError);
  assert.equal(error.closeCode, 1006);
  assert.ok(error instanceof DOMException);
  await assert.rejects(wss.closed, WebSocketError);
});

test("websocket stream: an aborted signal fails the connection with its reason", async () => {
  const server = await startEcho();
  try {
    const already = new WebSocketStream(urlOf(server), {
      signal: AbortSignal.abort(new Error("never mind")),
    });
    await assert.rejects(already.opened, /never mind/);
    await assert.rejects(already.closed, /never mind/);
    const controller = new AbortController();
    const [a] = memoryPipe(); // nobody answers on the other end
    const pending = new WebSocketStream(
      connectStream(a),
      { signal: controller.signal },
    );
    const later = new WebSocketStream(urlOf(server), {
      signal: controller.signal,
    });
    controller.abort(new Error("changed my mind"));
    await assert.rejects(later.opened, /changed my mind/);
    await assert.rejects(later.closed, /changed my mind/);
    assert.ok(pending.url.startsWith("ws://"));
  } finally {
    await server.close();
  }
});

test("websocket stream: cancelling the readable with a WebSocketError closes with its code; closing the writable closes too", async () => {
  const { client, server } = await pipePair();
  const serverClosed = closed(server);
  const wss = new WebSocketStream(client);
  const { readable } = await wss.opened;
  await readable.cancel(
    new WebSocketError("", { closeCode: 4444, reason: "x" }),
  );
  const event = await serverClosed;
  assert.deepEqual([event.code, event.reason], [4444, "x"]);
  assert.deepEqual(await wss.closed, { closeCode: 4444, reason: "x" });

  const second = await pipePair();
  const secondClosed = closed(second.server);
  const stream = new WebSocketStream(second.client);
  const { writable } = await stream.opened;
  await writable.close();
  assert.equal((await secondClosed).code, 1005);
  assert.deepEqual(await stream.closed, { closeCode: 1005, reason: "" });
});

test("websocket stream: a server socket wrapped in onConnection echoes with pipeTo", async () => {
  const server = await startEcho({
    onConnection(socket) {
      socket.onmessage = null; // replace the echo handler with streams
      const stream = new WebSocketStream(socket);
      stream.opened.then(({ readable, writable }) =>
        readable.pipeTo(writable).catch(() => {})
      );
    },
  });
  try {
    const wss = new WebSocketStream(urlOf(server));
    const { readable, writable } = await wss.opened;
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write("ping");
    assert.equal((await reader.read()).value, "ping");
    await writer.write(new Uint8Array([5]));
    assert.deepEqual((await reader.read()).value, new Uint8Array([5]));
    wss.close({ closeCode: 1000 });
    assert.equal((await wss.closed).closeCode, 1000);
  } finally {
    await server.close();
  }
});

test("websocket stream: close() validates like WebSocket.close()", async () => {
  const { client, server } = await pipePair();
  const wss = new WebSocketStream(client);
  await wss.opened;
  assert.throws(() => wss.close({ closeCode: 1001 }), {
    name: "InvalidAccessError",
  });
  assert.throws(
    () => wss.close({ closeCode: 1000, reason: "x".repeat(124) }),
    { name: "SyntaxError" },
  );
  const serverClosed = closed(server);
  wss.close({ reason: "reason only" });
  assert.deepEqual(
    [(await serverClosed).code, (await wss.closed).reason],
    [1000, "reason only"],
  );
});
