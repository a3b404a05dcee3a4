/**
 * Suspending a connection while a large compressed message is inflated off
 * the event loop, in memory: a fake codec whose `inflateLater` jobs the test
 * completes by hand, so every step of `suspend` → `resume` is visible.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { constants, deflateRawSync } from "node:zlib";
import { Connection, type ConnectionEvent } from "../core/connection.ts";
import type {
  DecodeOutcome,
  DeferredDecode,
  Extension,
} from "../core/extension.ts";
import {
  type DeflateCodec,
  type InflateOptions,
  permessageDeflate,
  type PerMessageDeflateOptions,
} from "../core/permessage_deflate.ts";
import { zlibCodec } from "../adapters/deflate.ts";
import { clientFrame, closeBody, concat } from "./helpers.ts";
import { text } from "./deflate_helpers.ts";

const enc = new TextEncoder();
const RSV1 = 0x4;
const BUDGET = 1024;

/** An `inflateLater` call the test has not completed yet. */
interface Job {
  data: Uint8Array;
  options: InflateOptions;
  done: (outcome: DecodeOutcome) => void;
}

/** The zlib codec, with an `inflateLater` that waits for the test. */
function handCodec(): {
  codec: DeflateCodec;
  jobs: Job[];
  dictionaries: (Uint8Array | undefined)[];
} {
  const jobs: Job[] = [];
  const dictionaries: (Uint8Array | undefined)[] = [];
  const codec: DeflateCodec = {
    deflate: zlibCodec.deflate,
    inflate(data, options) {
      dictionaries.push(options.dictionary?.slice());
      return zlibCodec.inflate(data, options);
    },
    minWindowBits: 9,
    contextTakeover: true,
    inflateLater(data, options, done) {
      jobs.push({ data, options, done });
    },
  };
  return { codec, jobs, dictionaries };
}

/** What the synchronous inflate gives for a job: the outcome to complete it with. */
function syncOutcome(job: Job): DecodeOutcome {
  try {
    return { output: zlibCodec.inflate(job.data, job.options) };
  } catch (error) {
    return { error };
  }
}

/**
 * Starts the job of the `suspend` event that ends `events`, completes it by
 * hand (with the synchronous inflate's result unless `outcome` is given)
 * and returns what the job passed to its `done`.
 */
function run(
  events: readonly ConnectionEvent[],
  jobs: Job[],
  outcome?: DecodeOutcome,
): DecodeOutcome {
  const last = events[events.length - 1];
  assert.equal(last?.type, "suspend");
  const before = jobs.length;
  let got: DecodeOutcome | undefined;
  (last as { job: DeferredDecode }).job.run((o) => {
    got = o;
  });
  assert.equal(jobs.length, before + 1, "run() starts one inflateLater");
  assert.equal(got, undefined, "done is not called from inside run()");
  const job = jobs[before];
  job.done(outcome ?? syncOutcome(job));
  assert.ok(got !== undefined);
  return got;
}

/** A server connection with permessage-deflate negotiated, suspendable. */
function server(
  codec: DeflateCodec,
  options: PerMessageDeflateOptions = {},
  extra: { suspendable?: boolean; maxMessageSize?: number } = {},
): Connection {
  const ext: Extension | undefined = permessageDeflate({
    maxSyncInflate: BUDGET,
    ...options,
    codec,
  }).respond([{ name: "permessage-deflate", params: [] }]);
  assert.ok(ext);
  return new Connection({
    role: "server",
    activeExtensions: [ext],
    suspendable: extra.suspendable ?? true,
    maxMessageSize: extra.maxMessageSize,
  });
}

/** A compressed text frame (RSV1) for `message`, as a client sends it. */
function compressedFrame(message: string | Uint8Array): Uint8Array {
  const bytes = typeof message === "string" ? enc.encode(message) : message;
  const out = deflateRawSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH });
  return clientFrame(
    typeof message === "string" ? 0x1 : 0x2,
    out.subarray(0, out.length - 4),
    { rsv: RSV1 },
  );
}

/** Event types (and message texts' lengths) in order, for comparisons. */
function shape(events: readonly ConnectionEvent[]): string[] {
  return events.map((e) => {
    if (e.type === "message") {
      return typeof e.data === "string"
        ? `text:${e.data.length}`
        : `binary:${e.data.length}`;
    }
    if (e.type === "close") return `close:${e.code}`;
    if (e.type === "error") return `error:${e.code}`;
    return e.type;
  });
}

const BIG = text(50_000, 1);

describe("suspend and resume around a deferred inflate", () => {
  test("a message inflating past the sync budget suspends; a small one does not", () => {
    const { codec, jobs } = handCodec();
    const conn = server(codec);
    const small = conn.receive(compressedFrame("x".repeat(500)));
    assert.deepEqual(shape(small), ["text:500"]);
    assert.equal(jobs.length, 0);
    const events = conn.receive(compressedFrame(BIG));
    assert.deepEqual(shape(events), ["suspend"]);
    assert.equal(conn.suspended, true);
    assert.equal(jobs.length, 0, "the embedder starts the job");
    const outcome = run(events, jobs);
    assert.equal(jobs[0].options.maxOutput, 64 * 1024 * 1024);
    assert.deepEqual(conn.resume(outcome), [{ type: "message", data: BIG }]);
  });

  test("without `suspendable` the same message is inflated at once", () => {
    const { codec, jobs } = handCodec();
    const conn = server(codec, {}, { suspendable: false });
    const events = conn.receive(compressedFrame(BIG));
    assert.deepEqual(events, [{ type: "message", data: BIG }]);
    assert.equal(jobs.length, 0);
  });

  test("bytes received while suspended are not processed until resume, then in order", () => {
    const { codec, jobs } = handCodec();
    const conn = server(codec);
    const chunk = concat(
      compressedFrame(BIG),
      clientFrame(0x1, "after"),
      clientFrame(0x9, "p1"),
    );
    const suspended = conn.receive(chunk);
    assert.deepEqual(shape(suspended), ["suspend"]);
    // More bytes while suspended: kept, not read (no events, no pong).
    assert.deepEqual(conn.receive(clientFrame(0x9, "p2")), []);
    assert.deepEqual(conn.receive(clientFrame(0x1, "last")), []);
    assert.equal(conn.outputLength, 0);
    const events = conn.resume(run(suspended, jobs));
    assert.deepEqual(events, [
      { type: "message", data: BIG },
      { type: "message", data: "after" },
      { type: "ping", data: enc.encode("p1") },
      { type: "ping", data: enc.encode("p2") },
      { type: "message", data: "last" },
    ]);
    assert.equal(conn.suspended, false);
    assert.ok(conn.outputLength > 0, "the pongs go out after the resume");
  });

  test("a close frame after the message is not echoed before the message is delivered", () => {
    const { codec, jobs } = handCodec();
    const conn = server(codec);
    const chunk = concat(
      compressedFrame(BIG),
      clientFrame(0x8, closeBody(1000, "bye")),
    );
    const suspended = conn.receive(chunk);
    assert.deepEqual(shape(suspended), ["suspend"]);
    assert.deepEqual(conn.takeOutput(), []);
    assert.equal(conn.state, 1);
    const events = conn.resume(run(suspended, jobs));
    assert.deepEqual(shape(events), [`text:${BIG.length}`, "close:1000"]);
    const echo = concat(...conn.takeOutput());
    assert.deepEqual([...echo.subarray(0, 2)], [0x88, 5]);
  });

  test("two large messages in one chunk suspend one after the other", () => {
    const { codec, jobs } = handCodec();
    const conn = server(codec);
    const second = text(40_000, 2);
    const chunk = concat(
      compressedFrame(BIG),
      compressedFrame(second),
      clientFrame(0x1, "tail"),
    );
    const suspended = conn.receive(chunk);
    assert.deepEqual(shape(suspended), ["suspend"]);
    const first = conn.resume(run(suspended, jobs));
    assert.deepEqual(shape(first), [`text:${BIG.length}`, "suspend"]);
    assert.equal((first[0] as { data: string }).data, BIG);
    const rest = conn.resume(run(first, jobs));
    assert.equal(jobs.length, 2);
    assert.deepEqual(rest, [
      { type: "message", data: second },
      { type: "message", data: "tail" },
    ]);
  });

  test("a fragmented compressed message suspends when its last frame arrives", () => {
    const { codec, jobs } = handCodec();
    const conn = server(codec);
    const out = deflateRawSync(enc.encode(BIG), {
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    const payload = out.subarray(0, out.length - 4);
    const half = payload.length >> 1;
    const first = clientFrame(0x1, payload.subarray(0, half), {
      rsv: RSV1,
      fin: false,
    });
    const last = clientFrame(0x0, payload.subarray(half));
    assert.deepEqual(conn.receive(first), []);
    const suspended = conn.receive(last);
    assert.deepEqual(shape(suspended), ["suspend"]);
    assert.deepEqual(conn.resume(run(suspended, jobs)), [
      { type: "message", data: BIG },
    ]);
  });

  test("a bomb fails with 1009 on resume and nothing after it is read", () => {
    const { codec, jobs } = handCodec();
    const conn = server(codec, {}, { maxMessageSize: 1024 * 1024 });
    const bomb = new Uint8Array(4 * 1024 * 1024);
    const chunk = concat(compressedFrame(bomb), clientFrame(0x9, "p"));
    const suspended = conn.receive(chunk);
    assert.deepEqual(shape(suspended), ["suspend"]);
    const outcome = run(suspended, jobs);
    assert.equal(jobs[0].options.maxOutput, 1024 * 1024);
    assert.deepEqual(outcome, { output: undefined });
    const events = conn.resume(outcome);
    assert.deepEqual(shape(events), ["error:1009", "close:1009"]);
    const sent = concat(...conn.takeOutput());
    assert.equal(sent[0], 0x88, "only a close frame, no pong");
    assert.equal((sent[2] << 8) | sent[3], 1009);
  });

  test("corrupt data reported by the job fails with 1007", () => {
    const { codec, jobs } = handCodec();
    const conn = server(codec);
    const suspended = conn.receive(compressedFrame(BIG));
    assert.deepEqual(shape(suspended), ["suspend"]);
    const events = conn.resume(
      run(suspended, jobs, { error: new Error("invalid block type") }),
    );
    assert.deepEqual(shape(events), ["error:1007", "close:1007"]);
    assert.match(
      (events[0] as { message: string }).message,
      /invalid compressed data: invalid block type/,
    );
    assert.equal(jobs.length, 1);
  });

  test("invalid UTF-8 in a deferred text message fails with 1007", () => {
    const { codec, jobs } = handCodec();
    const conn = server(codec);
    const bad = new Uint8Array(20_000).fill(0x61);
    bad[10_000] = 0xff;
    const out = deflateRawSync(bad, { finishFlush: constants.Z_SYNC_FLUSH });
    const frame = clientFrame(0x1, out.subarray(0, out.length - 4), {
      rsv: RSV1,
    });
    const suspended = conn.receive(frame);
    assert.deepEqual(shape(suspended), ["suspend"]);
    assert.deepEqual(shape(conn.resume(run(suspended, jobs))), [
      "error:1007",
      "close:1007",
    ]);
  });

  test("a connection closed while suspended drops the outcome", () => {
    const { codec, jobs } = handCodec();
    const conn = server(codec);
    const chunk = concat(compressedFrame(BIG), clientFrame(0x9, "p"));
    const suspended = conn.receive(chunk);
    assert.deepEqual(shape(suspended), ["suspend"]);
    assert.deepEqual(shape(conn.transportClosed()), ["close:1006"]);
    assert.deepEqual(conn.resume(run(suspended, jobs)), []);
    assert.equal(conn.suspended, false);
  });

  test("resume() without a suspend throws (local misuse)", () => {
    const { codec } = handCodec();
    const conn = server(codec);
    assert.throws(
      () => conn.resume({ output: new Uint8Array(1) }),
      /resume\(\) without a suspend/,
    );
  });

  test("the deferred message enters the receive window (context takeover)", () => {
    const { codec, jobs, dictionaries } = handCodec();
    const conn = server(codec);
    const suspended = conn.receive(compressedFrame(BIG));
    assert.deepEqual(shape(suspended), ["suspend"]);
    const outcome = run(suspended, jobs);
    assert.equal(jobs[0].options.dictionary, undefined);
    assert.deepEqual(conn.resume(outcome), [
      { type: "message", data: BIG },
    ]);
    assert.deepEqual(conn.receive(compressedFrame("small one")), [
      { type: "message", data: "small one" },
    ]);
    // The next inflate is primed with the end of the deferred message.
    const last = dictionaries[dictionaries.length - 1];
    assert.ok(last !== undefined);
    assert.deepEqual(last, enc.encode(BIG).subarray(BIG.length - 32768));
  });
});
