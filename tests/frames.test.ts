import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { FrameDecoder, type FrameSink } from "../core/decoder.ts";
import { encodeFrame, frameHeaderSize } from "../core/encoder.ts";
import type { FrameHeader } from "../core/frame.ts";
import { ProtocolError } from "../core/errors.ts";
import { concat, rawFrame } from "./helpers.ts";

interface Seen {
  header: FrameHeader;
  payload: Uint8Array;
}

/** Decodes `bytes` split into `chunks`, collecting whole frames. */
function decodeAll(
  role: "client" | "server",
  chunks: Uint8Array[],
  allowedRsv = 0,
): Seen[] {
  const seen: Seen[] = [];
  let current: { header: FrameHeader; parts: Uint8Array[] } | undefined;
  const sink: FrameSink = {
    frameStart(fin, rsv, opcode, length) {
      const masked = role === "server";
      current = { header: { fin, rsv, opcode, masked, length }, parts: [] };
    },
    framePayload(data, start, end) {
      assert.ok(end > start, "payload pieces are never empty");
      current!.parts.push(data.slice(start, end));
    },
    frameEnd() {
      seen.push({
        header: current!.header,
        payload: concat(...current!.parts),
      });
    },
  };
  const decoder = new FrameDecoder(sink, { role, allowedRsv });
  for (const chunk of chunks) decoder.push(chunk);
  return seen;
}

const hex = (...bytes: number[]) => new Uint8Array(bytes);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

test("frames: RFC 6455 §5.7 single-frame unmasked text", () => {
  const [f] = decodeAll("client", [
    hex(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
  ]);
  assert.equal(f.header.opcode, 1);
  assert.equal(f.header.fin, true);
  assert.equal(text(f.payload), "Hello");
});

test("frames: RFC 6455 §5.7 single-frame masked text", () => {
  const bytes = hex(
    0x81,
    0x85,
    0x37,
    0xfa,
    0x21,
    0x3d,
    0x7f,
    0x9f,
    0x4d,
    0x51,
    0x58,
  );
  const [f] = decodeAll("server", [bytes]);
  assert.equal(f.header.masked, true);
  assert.equal(text(f.payload), "Hello");
});

test("frames: RFC 6455 §5.7 fragmented unmasked text", () => {
  const frames = decodeAll("client", [
    hex(0x01, 0x03, 0x48, 0x65, 0x6c),
    hex(0x80, 0x02, 0x6c, 0x6f),
  ]);
  assert.deepEqual(
    frames.map((f) => [f.header.opcode, f.header.fin, text(f.payload)]),
    [
      [1, false, "Hel"],
      [0, true, "lo"],
    ],
  );
});

test("frames: RFC 6455 §5.7 ping and masked pong", () => {
  const [ping] = decodeAll("client", [
    hex(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
  ]);
  assert.equal(ping.header.opcode, 9);
  assert.equal(text(ping.payload), "Hello");
  const [pong] = decodeAll("server", [
    hex(0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58),
  ]);
  assert.equal(pong.header.opcode, 10);
  assert.equal(text(pong.payload), "Hello");
});

test("frames: RFC 6455 §5.7 256-byte and 64 KiB binary length forms", () => {
  const small = concat(
    hex(0x82, 0x7e, 0x01, 0x00),
    new Uint8Array(256).fill(7),
  );
  const big = concat(
    hex(0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0),
    new Uint8Array(65536).fill(9),
  );
  const frames = decodeAll("client", [small, big]);
  assert.equal(frames[0].header.length, 256);
  assert.equal(frames[0].payload.length, 256);
  assert.equal(frames[1].header.length, 65536);
  assert.equal(frames[1].payload[65535], 9);
});

test("frames: encoder writes the RFC 6455 §5.7 bytes", () => {
  const hello = new TextEncoder().encode("Hello");
  assert.deepEqual(encodeFrame(1, hello), [
    hex(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
  ]);
  assert.deepEqual(encodeFrame(1, hello.subarray(0, 3), { fin: false }), [
    hex(0x01, 0x03, 0x48, 0x65, 0x6c),
  ]);
  assert.deepEqual(encodeFrame(0, hello.subarray(3)), [
    hex(0x80, 0x02, 0x6c, 0x6f),
  ]);
  assert.deepEqual(encodeFrame(9, hello), [
    hex(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
  ]);
  const [h256] = encodeFrame(2, new Uint8Array(256));
  assert.deepEqual(h256.subarray(0, 4), hex(0x82, 0x7e, 0x01, 0x00));
  const [h64k, payload] = encodeFrame(2, new Uint8Array(65536));
  assert.deepEqual(h64k, hex(0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0));
  assert.equal(payload.length, 65536);
});

test("frames: encoder does not copy a large unmasked payload", () => {
  const payload = new Uint8Array(100_000);
  const chunks = encodeFrame(2, payload);
  assert.equal(chunks.length, 2);
  assert.equal(chunks[1], payload);
  assert.equal(chunks[0].length, 10);
});

test("frames: encoder masks with a fresh key per frame and leaves the payload alone", () => {
  const payload = new TextEncoder().encode("Hello");
  const [a] = encodeFrame(1, payload, { mask: true });
  const [b] = encodeFrame(1, payload, { mask: true });
  assert.equal(a[1], 0x85);
  assert.equal(a.length, 2 + 4 + 5);
  assert.notDeepEqual(a.subarray(2, 6), b.subarray(2, 6));
  assert.equal(text(payload), "Hello");
  const [f] = decodeAll("server", [a]);
  assert.equal(text(f.payload), "Hello");
});

test("frames: encoder writes RSV bits and fin", () => {
  const [out] = encodeFrame(1, new Uint8Array(1), { rsv: 0b100, fin: false });
  assert.equal(out[0], 0x41);
});

test("frames: header size for each length form", () => {
  assert.equal(frameHeaderSize(125, false), 2);
  assert.equal(frameHeaderSize(126, false), 4);
  assert.equal(frameHeaderSize(65535, true), 8);
  assert.equal(frameHeaderSize(65536, false), 10);
});

test("frames: decoder accepts one byte at a time", () => {
  const bytes = concat(
    rawFrame(1, "Hello", { fin: false }),
    rawFrame(9, "p"),
    rawFrame(0, "!"),
    rawFrame(2, new Uint8Array(300).fill(1)),
  );
  const frames = decodeAll("server", [...bytes].map((b) => hex(b)));
  assert.deepEqual(frames.map((f) => f.header.opcode), [1, 9, 0, 2]);
  assert.equal(text(frames[0].payload), "Hello");
  assert.equal(frames[3].payload.length, 300);
});

test("frames: decoder hands out views of the input, not copies", () => {
  const bytes = rawFrame(2, new Uint8Array(1000).fill(5), { mask: false });
  const pieces: Uint8Array[] = [];
  const decoder = new FrameDecoder({
    frameStart() {},
    framePayload(d, start, end) {
      pieces.push(d.subarray(start, end));
    },
    frameEnd() {},
  }, { role: "client" });
  decoder.push(bytes);
  assert.equal(pieces.length, 1);
  assert.equal(pieces[0].buffer, bytes.buffer);
});

function rejects(
  role: "client" | "server",
  bytes: Uint8Array,
  code: number,
  pattern: RegExp,
): void {
  assert.throws(
    () => decodeAll(role, [bytes]),
    (e: unknown) =>
      e instanceof ProtocolError && e.code === code && pattern.test(e.message),
  );
}

test("frames: non-zero RSV bits without an extension fail with 1002", () => {
  for (const rsv of [1, 2, 4, 7]) {
    rejects("server", rawFrame(1, "x", { rsv }), 1002, /reserved bits/);
  }
  assert.equal(
    decodeAll("server", [rawFrame(1, "x", { rsv: 4 })], 4).length,
    1,
  );
});

test("frames: reserved opcodes fail with 1002", () => {
  for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    rejects("server", rawFrame(op, ""), 1002, /reserved opcode/);
  }
});

test("frames: fragmented control frames fail with 1002", () => {
  for (const op of [8, 9, 10]) {
    rejects(
      "server",
      rawFrame(op, "", { fin: false }),
      1002,
      /fragmented control/,
    );
  }
});

test("frames: control frames over 125 bytes fail with 1002", () => {
  rejects("server", rawFrame(9, new Uint8Array(126)), 1002, /over 125/);
  assert.equal(
    decodeAll("server", [rawFrame(9, new Uint8Array(125))]).length,
    1,
  );
});

test("frames: masking rules by role", () => {
  rejects("server", rawFrame(1, "x", { mask: false }), 1002, /unmasked frame/);
  rejects("client", rawFrame(1, "x"), 1002, /masked frame/);
});

test("frames: 64-bit length with the top bit set fails with 1002", () => {
  const bytes = hex(0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4);
  rejects("server", bytes, 1002, /top bit/);
  rejects(
    "server",
    hex(0x82, 0xff, 0x00, 0x40, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4),
    1009,
    /2\^53/,
  );
});

test("frames: non-minimal length encodings are accepted", () => {
  const [f] = decodeAll("server", [rawFrame(2, "abc", { lengthForm: 64 })]);
  assert.equal(text(f.payload), "abc");
  const [g] = decodeAll("server", [rawFrame(2, "abc", { lengthForm: 16 })]);
  assert.equal(text(g.payload), "abc");
});

test("frames: property: encode → decode round-trips under random chunking", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          opcode: fc.constantFrom(0, 1, 2),
          payload: fc.oneof(
            fc.uint8Array({ maxLength: 200 }),
            fc.uint8Array({ minLength: 65530, maxLength: 65600 }),
          ),
          fin: fc.boolean(),
        }),
        { maxLength: 6 },
      ),
      fc.boolean(),
      fc.array(fc.integer({ min: 1, max: 70000 }), {
        minLength: 1,
        maxLength: 20,
      }),
      (frames, masked, sizes) => {
        const bytes = concat(
          ...frames.flatMap((f) =>
            encodeFrame(f.opcode, f.payload, { fin: f.fin, mask: masked })
          ),
        );
        const chunks: Uint8Array[] = [];
        for (let i = 0, k = 0; i < bytes.length; k++) {
          const n = sizes[k % sizes.length];
          chunks.push(bytes.slice(i, i + n));
          i += n;
        }
        const seen = decodeAll(masked ? "server" : "client", chunks);
        assert.equal(seen.length, frames.length);
        seen.forEach((s, i) => {
          assert.equal(s.header.opcode, frames[i].opcode);
          assert.equal(s.header.fin, frames[i].fin);
          assert.deepEqual(s.payload, frames[i].payload);
        });
      },
    ),
    { numRuns: 150 },
  );
});
