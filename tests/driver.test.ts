/**
 * The driver: one owner of a connection's output, reads, transport end and
 * timer. Over in-memory stream pairs (real WHATWG streams) and, for the
 * bookkeeping that a stream cannot show, a transport that records calls.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Connection, type ConnectionEvent } from "../core/connection.ts";
import { memoryPipe, StreamTransport } from "../adapters/streams.ts";
import type { Transport, TransportHandlers } from "../adapters/transport.ts";
import { Driver, Hold } from "../socket/driver.ts";

/** A transport that records what is asked of it. */
class RecordingTransport implements Transport {
  handlers: TransportHandlers = { data() {}, drain() {}, close() {} };
  calls: string[] = [];
  written: Uint8Array[] = [];
  buffered = 0;
  write(chunk: Uint8Array): boolean {
    this.written.push(chunk);
    return true;
  }
  pause(): void {
    this.calls.push("pause");
  }
  resume(): void {
    this.calls.push("resume");
  }
  end(): void {
    this.calls.push("end");
  }
  destroy(): void {
    this.calls.push("destroy");
    queueMicrotask(() => this.handlers.close());
  }
}

/** Runs `driver` for `conn` on `transport`, collecting events until close. */
function drive(
  conn: Connection,
  transport: Transport,
): { driver: Driver; events: ConnectionEvent[]; closed: Promise<void> } {
  const events: ConnectionEvent[] = [];
  let closed!: () => void;
  const done = new Promise<void>((resolve) => closed = resolve);
  const driver: Driver = new Driver(conn, transport, {
    events(batch) {
      events.push(...batch);
      driver.flush();
    },
    drained() {},
    closed() {
      conn.transportClosed();
      closed();
    },
  });
  driver.flush();
  return { driver, events, closed: done };
}

const types = (events: ConnectionEvent[]): string[] =>
  events.map((e) => e.type === "close" ? `close ${e.code}` : e.type);

describe("driver", () => {
  test("a handshake that gets no answer times out (1006) and drops the transport", async () => {
    const [near, far] = memoryPipe();
    const conn = Connection.client("ws://pipe.test/", {
      handshakeTimeout: 30,
    });
    const run = drive(conn, new StreamTransport(near));
    assert.equal(conn.timer?.kind, "handshake");
    const reader = far.readable.getReader();
    await reader.read(); // the upgrade request
    await run.closed;
    assert.deepEqual(types(run.events), ["error", "close 1006"]);
    // Dropped: the peer's side ends (or errors, as an abort does).
    const ended = await reader.read().then((r) => r.done, () => true);
    assert.equal(ended, true, "the peer saw the end");
  });

  test("a close the peer never answers times out with 1006", async () => {
    const [near, far] = memoryPipe();
    const conn = new Connection({ role: "server", closeTimeout: 30 });
    const run = drive(conn, new StreamTransport(near));
    conn.close(1000, "bye");
    run.driver.flush();
    assert.equal(conn.timer?.kind, "close");
    const reader = far.readable.getReader();
    await reader.read(); // the close frame
    await run.closed;
    assert.deepEqual(types(run.events), ["error", "close 1006"]);
  });

  test("after a clean close the server ends the transport and drops it when the peer lingers", async () => {
    const [near, far] = memoryPipe();
    const conn = new Connection({ role: "server", lingerTimeout: 30 });
    const run = drive(conn, new StreamTransport(near));
    const client = new Connection({ role: "client" });
    client.close(1000);
    const writer = far.writable.getWriter();
    for (const chunk of client.takeOutput()) await writer.write(chunk);
    const reader = far.readable.getReader();
    const echo = await reader.read();
    assert.deepEqual(
      types([...client.receive(echo.value!)]),
      ["close 1000"],
    );
    assert.equal(conn.timer?.kind, "linger");
    // The peer keeps its side open; the linger drops the transport.
    await run.closed;
    assert.deepEqual(types(run.events), ["close 1000"]);
  });

  test("a client whose handshake failed is dropped at once (nothing to wait for)", () => {
    const transport = new RecordingTransport();
    const conn = Connection.client("ws://pipe.test/");
    const run = drive(conn, transport);
    transport.handlers.data(
      new TextEncoder().encode("HTTP/1.1 403 Forbidden\r\n\r\n"),
    );
    assert.deepEqual(types(run.events), ["error", "close 1006"]);
    assert.deepEqual(transport.calls, ["destroy"]);
  });

  test("reading pauses once for any number of reasons and resumes when none is left", () => {
    const transport = new RecordingTransport();
    const { driver } = drive(new Connection({ role: "server" }), transport);
    driver.hold(Hold.Caller, true);
    driver.hold(Hold.Decoding, true);
    driver.hold(Hold.Caller, true);
    driver.hold(Hold.Caller, false);
    assert.deepEqual(transport.calls, ["pause"]);
    assert.ok(driver.holding(Hold.Decoding));
    driver.hold(Hold.Decoding, false);
    assert.deepEqual(transport.calls, ["pause", "resume"]);
  });

  test("backpressure: reading pauses past pauseReadingAt and resumes at half of it", () => {
    const transport = new RecordingTransport();
    const heard: boolean[] = [];
    const conn = new Connection({ role: "server" });
    const driver = new Driver(conn, transport, {
      events() {},
      drained() {},
      closed() {},
      backpressure: (paused) => heard.push(paused),
    }, 100);
    transport.buffered = 150;
    conn.send("x");
    driver.flush();
    assert.deepEqual(transport.calls, ["pause"]);
    transport.buffered = 80;
    driver.drain();
    assert.deepEqual(transport.calls, ["pause"], "80 is not yet half");
    transport.buffered = 50;
    driver.drain();
    assert.deepEqual(transport.calls, ["pause", "resume"]);
    assert.deepEqual(heard, [true, false]);
  });

  test("one timer per connection: the core's wait and the helper's wake-ups share it", () => {
    const realSet = globalThis.setTimeout;
    const realClear = globalThis.clearTimeout;
    const live = new Set<number>();
    let most = 0;
    let next = 1;
    globalThis.setTimeout = (() => {
      live.add(next);
      most = Math.max(most, live.size);
      return next++;
    }) as unknown as typeof setTimeout;
    globalThis.clearTimeout = ((id: number) => {
      live.delete(id);
    }) as unknown as typeof clearTimeout;
    try {
      const transport = new RecordingTransport();
      const conn = Connection.client("ws://pipe.test/");
      const { driver } = drive(conn, transport);
      let wakeAt: number | undefined = Date.now() + 1000;
      driver.wakeful = {
        get wakeAt() {
          return wakeAt;
        },
        wake() {},
      };
      driver.flush();
      wakeAt = Date.now() + 5;
      driver.flush();
      conn.close();
      driver.flush();
      wakeAt = undefined;
      driver.flush();
      assert.equal(most, 1);
      assert.equal(live.size, 1);
    } finally {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
    }
  });
});
