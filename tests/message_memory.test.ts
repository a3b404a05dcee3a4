/**
 * Memory a peer can make the core hold: a fragmented message refused for
 * its size holds about the limit, not twice it (`MessageAssembler`), and a
 * flood of pings with no output taken queues a bounded number of pongs.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Connection, type ConnectionEvent } from "../core/connection.ts";
import { ProtocolError } from "../core/errors.ts";
import { Opcode } from "../core/frame.ts";
import { DEFAULT_MESSAGE_LIMITS, MessageAssembler } from "../core/message.ts";
import { clientFrame, closeBody, concat } from "./helpers.ts";

const MiB = 1024 * 1024;
const enc = new TextEncoder();

/** Feeds one fragment (a fresh chunk of `size` bytes) to `assembler`. */
function fragment(
  assembler: MessageAssembler,
  first: boolean,
  size: number,
  fin = false,
): void {
  assembler.frame(first ? Opcode.Binary : Opcode.Continuation, size, 0, fin);
  assembler.append(new Uint8Array(size));
}

/** The code of the `ProtocolError` `step` throws, or undefined. */
function codeOf(step: () => void): number | undefined {
  try {
    step();
  } catch (error) {
    assert.ok(error instanceof ProtocolError, String(error));
    return error.code;
  }
  return undefined;
}

describe("MessageAssembler: memory of a refused message", () => {
  test("256 MiB in 1 MiB fragments: refused with 1009 past 64 MiB, never holding more than the limit", () => {
    const assembler = new MessageAssembler(DEFAULT_MESSAGE_LIMITS);
    let most = 0;
    let fed = 0;
    let code: number | undefined;
    for (let i = 0; i < 256 && code === undefined; i++) {
      code = codeOf(() => fragment(assembler, i === 0, MiB, i === 255));
      if (code === undefined) fed++;
      most = Math.max(most, assembler.bufferedBytes);
    }
    assert.equal(code, 1009);
    assert.equal(fed, 64, "refused at the header of the 65th fragment");
    assert.ok(most >= 64 * MiB, `holds what arrived (${most})`);
    assert.ok(
      most <= DEFAULT_MESSAGE_LIMITS.maxMessageSize,
      `held at most the limit, not twice it: ${most} bytes`,
    );
  });

  test("small fragments are copied together: at most the limit plus one staging buffer", () => {
    const limits = { maxMessageSize: MiB, maxFragments: 1 << 20 };
    const assembler = new MessageAssembler(limits);
    let most = 0;
    let code: number | undefined;
    for (let i = 0; code === undefined; i++) {
      code = codeOf(() => fragment(assembler, i === 0, 100));
      most = Math.max(most, assembler.bufferedBytes);
    }
    assert.equal(code, 1009);
    // Staging buffers of 16 KiB hold 163 pieces of 100 bytes (84 spare).
    assert.ok(most <= 1.01 * MiB + 16 * 1024, `held ${most} bytes`);
  });

  test("fragments in chunks that carry little else of the message are copied, not kept whole", () => {
    // Each 2 KiB fragment arrives in a 64 KiB chunk whose other bytes (other
    // frames) are not part of the message: keeping views would hold 32 times
    // the message.
    const limits = { maxMessageSize: 4 * MiB, maxFragments: 1 << 20 };
    const assembler = new MessageAssembler(limits);
    let received = 0;
    let code: number | undefined;
    for (let i = 0; code === undefined; i++) {
      code = codeOf(() => {
        assembler.frame(
          i === 0 ? Opcode.Binary : Opcode.Continuation,
          2048,
          0,
          false,
        );
        const chunk = new Uint8Array(64 * 1024);
        assembler.append(chunk, 1000, 1000 + 2048);
      });
      if (code !== undefined) break;
      received += 2048;
      const held = assembler.bufferedBytes;
      assert.ok(
        held <= 1.25 * received + 128 * 1024,
        `after ${received} bytes: held ${held}`,
      );
    }
    assert.equal(code, 1009);
  });
});

describe("MessageAssembler: accepted fragmented messages", () => {
  test("a fragmented message is one buffer of its exact size", () => {
    // 1,000,000 bytes in 100,000-byte fragments, each in a chunk of its own.
    const assembler = new MessageAssembler(DEFAULT_MESSAGE_LIMITS);
    const whole = new Uint8Array(1_000_000);
    for (let i = 0; i < whole.length; i++) whole[i] = (i * 7) & 255;
    for (let at = 0; at < whole.length; at += 100_000) {
      assembler.frame(
        at === 0 ? Opcode.Binary : Opcode.Continuation,
        100_000,
        0,
        at + 100_000 === whole.length,
      );
      assembler.append(whole.slice(at, at + 100_000));
    }
    const data = assembler.finish() as Uint8Array;
    assert.deepEqual(data, whole);
    assert.equal(data.byteOffset, 0);
    assert.equal(data.buffer.byteLength, whole.length, "no spare capacity");
    assert.equal(assembler.bufferedBytes, 0, "nothing held after finish");
  });

  test("property: fragments and chunks split anywhere (code points too) give the message back", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (text, fragmentCuts, chunkCuts) => {
          const bytes = enc.encode(text);
          const cuts = (list: number[]) =>
            [...new Set(list.map((n) => n % (bytes.length + 1)))].sort((a, b) =>
              a - b
            );
          const bounds = [0, ...cuts(fragmentCuts), bytes.length];
          const chunkAt = new Set(cuts(chunkCuts));
          const assembler = new MessageAssembler(DEFAULT_MESSAGE_LIMITS);
          for (let f = 0; f + 1 < bounds.length; f++) {
            const [start, end] = [bounds[f], bounds[f + 1]];
            if (start === end && f > 0 && f + 2 < bounds.length) continue;
            assembler.frame(
              f === 0 ? Opcode.Text : Opcode.Continuation,
              end - start,
              0,
              f + 2 === bounds.length,
            );
            let from = start;
            for (let i = start + 1; i <= end; i++) {
              if (i === end || chunkAt.has(i)) {
                assembler.append(bytes.slice(from, i));
                from = i;
              }
            }
          }
          assert.equal(assembler.finish(), text);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("invalid UTF-8 fails in the fragment that has it, before the final one", () => {
    const assembler = new MessageAssembler(DEFAULT_MESSAGE_LIMITS);
    assembler.frame(Opcode.Text, 4, 0, false);
    assembler.append(enc.encode("ab\u00e9").subarray(0, 3)); // "ab" + lead byte
    assembler.frame(Opcode.Continuation, 2, 0, false);
    assert.equal(
      codeOf(() => assembler.append(new Uint8Array([0x41, 0x42]))),
      1007,
      "a lead byte followed by ASCII",
    );
  });

  test("a message in one piece is a view of its chunk, with no copy", () => {
    const assembler = new MessageAssembler(DEFAULT_MESSAGE_LIMITS);
    const chunk = new Uint8Array(4096).fill(7);
    assembler.frame(Opcode.Binary, 1000, 0, true);
    assembler.append(chunk, 10, 1010);
    const data = assembler.finish() as Uint8Array;
    assert.equal(data.buffer, chunk.buffer);
    assert.equal(data.byteOffset, 10);
    assert.equal(data.length, 1000);
  });
});

/** The opcodes and payloads of the server frames (unmasked) in `bytes`. */
function framesIn(bytes: Uint8Array): { opcode: number; payload: string }[] {
  const out: { opcode: number; payload: string }[] = [];
  const dec = new TextDecoder();
  let i = 0;
  while (i < bytes.length) {
    let length = bytes[i + 1] & 0x7f;
    let at = i + 2;
    if (length === 126) {
      length = (bytes[i + 2] << 8) | bytes[i + 3];
      at = i + 4;
    }
    out.push({
      opcode: bytes[i] & 0x0f,
      payload: dec.decode(bytes.subarray(at, at + length)),
    });
    i = at + length;
  }
  return out;
}

const taken = (conn: Connection) => framesIn(concat(...conn.takeOutput()));
const pings = (count: number, from = 0): Uint8Array =>
  concat(
    ...Array.from(
      { length: count },
      (_, i) => clientFrame(Opcode.Ping, `p${from + i}`),
    ),
  );
const pingEvents = (events: readonly ConnectionEvent[]): number =>
  events.filter((e) => e.type === "ping").length;

describe("Connection: pongs for a ping flood", () => {
  test("10,000 pings with no output taken queue a bounded number of pongs, the last for the latest ping", () => {
    const conn = new Connection({ role: "server" });
    const events = conn.receive(pings(10_000));
    assert.equal(pingEvents(events), 10_000, "every ping is reported");
    const before = conn.outputLength;
    const frames = taken(conn);
    assert.ok(frames.length <= 33, `${frames.length} pongs queued`);
    assert.ok(before <= 33 * 8, `${before} bytes queued`);
    assert.ok(frames.every((f) => f.opcode === Opcode.Pong));
    // The first ones in order, then the most recent ping's.
    assert.deepEqual(
      frames.slice(0, -1).map((f) => f.payload),
      Array.from({ length: frames.length - 1 }, (_, i) => `p${i}`),
    );
    assert.equal(frames[frames.length - 1].payload, "p9999");
  });

  test("pings over many receive() calls with no output taken stay bounded too", () => {
    const conn = new Connection({ role: "server" });
    for (let i = 0; i < 100; i++) conn.receive(pings(100, i * 100));
    const frames = taken(conn);
    assert.ok(frames.length <= 33, `${frames.length} pongs queued`);
    assert.equal(frames[frames.length - 1].payload, "p9999");
  });

  test("a few pings get a pong each, in order", () => {
    const conn = new Connection({ role: "server" });
    conn.receive(pings(10));
    assert.deepEqual(
      taken(conn).map((f) => f.payload),
      Array.from({ length: 10 }, (_, i) => `p${i}`),
    );
  });

  test("each taking of the output answers the pings since, one pong each", () => {
    const conn = new Connection({ role: "server" });
    for (let round = 0; round < 3; round++) {
      conn.receive(pings(20, round * 20));
      assert.deepEqual(
        taken(conn).map((f) => f.payload),
        Array.from({ length: 20 }, (_, i) => `p${round * 20 + i}`),
      );
    }
  });

  test("a held pong keeps its place: before what is sent after it, before the close echo", () => {
    const conn = new Connection({ role: "server" });
    conn.receive(pings(100));
    conn.send("reply");
    conn.receive(
      concat(pings(1, 100), clientFrame(Opcode.Close, closeBody(1000))),
    );
    const frames = taken(conn);
    const tail = frames.slice(-4).map((f) => [f.opcode, f.payload]);
    assert.deepEqual(tail.slice(0, 2), [[Opcode.Pong, "p99"], [
      Opcode.Text,
      "reply",
    ]]);
    assert.deepEqual(tail[2], [Opcode.Pong, "p100"]);
    assert.equal(tail[3][0], Opcode.Close);
  });

  test("outputLength counts the held pong, so a send measured by it counts only its frame", () => {
    const conn = new Connection({ role: "server" });
    conn.receive(pings(100));
    const held = conn.outputLength;
    conn.send("hello");
    assert.equal(conn.outputLength - held, 2 + 5);
    const frames = taken(conn);
    assert.equal(frames[frames.length - 1].payload, "hello");
    assert.equal(conn.outputLength, 0);
  });

  test("the held pong keeps the ping's payload when the application changes the event's data", () => {
    const conn = new Connection({ role: "server" });
    const events = conn.receive(pings(40));
    for (const event of events) {
      if (event.type === "ping") event.data.fill(0x21);
    }
    const frames = taken(conn);
    assert.equal(frames[frames.length - 1].payload, "p39");
  });
});
