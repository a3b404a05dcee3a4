/**
 * Autobahn TestSuite sections 9 (limits and performance) and 10
 * (auto-fragmentation) against wskit's echo server, from a raw TCP client:
 * large messages, many fragments, many chunks, many messages.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  binary,
  echoCase,
  expectThenClose,
  fragmented,
  masked,
  OP,
  pattern,
  type RawPeer,
  text,
} from "./harness.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** Text payloads that are valid UTF-8 and not pure ASCII (é every 64 bytes). */
function textPayload(n: number): Uint8Array {
  const out = pattern(n, true);
  for (let i = 62; i + 1 < n; i += 64) {
    out[i] = 0xc3;
    out[i + 1] = 0xa9;
  }
  return out;
}

function payloadFor(opcode: number, n: number): Uint8Array {
  return opcode === OP.text ? textPayload(n) : pattern(n);
}

function summaryFor(opcode: number, payload: Uint8Array): string {
  return opcode === OP.text ? text(payload) : binary(payload);
}

/** Checks the echoed frame byte for byte, then closes. */
async function expectEcho(
  peer: RawPeer,
  opcode: number,
  payload: Uint8Array,
): Promise<void> {
  const frame = await peer.frame();
  assert.equal(frame.opcode, opcode);
  assert.equal(frame.fin, true);
  assert.equal(frame.payload.length, payload.length);
  assert.ok(
    Buffer.from(frame.payload).equals(Buffer.from(payload)),
    "the echo has the same bytes",
  );
  await expectThenClose(peer, [summaryFor(opcode, payload)]);
}

const KINDS = [["text", OP.text], ["binary", OP.binary]] as const;

// ---- 9.1 / 9.2: large single-frame messages ----

const SIZES: [number, number][] = [
  [1, 64 * KiB],
  [2, 256 * KiB],
  [3, 1 * MiB],
  [4, 4 * MiB],
  [6, 16 * MiB],
];
for (const [kind, opcode] of KINDS) {
  const group = opcode === OP.text ? "9.1" : "9.2";
  for (const [n, size] of SIZES) {
    const label = size >= MiB ? `${size / MiB} MiB` : `${size / KiB} KiB`;
    test(`conformance ${group}.${n}: a ${label} ${kind} message in one frame is echoed`, () =>
      echoCase(async (peer) => {
        const payload = payloadFor(opcode, size);
        await peer.write(masked(opcode, payload));
        await expectEcho(peer, opcode, payload);
      }));
  }
}

// ---- 9.3 / 9.4: a 4 MiB message in fragments of various sizes ----

const FRAGMENT_SIZES = [
  64,
  256,
  1 * KiB,
  4 * KiB,
  16 * KiB,
  64 * KiB,
  256 * KiB,
  1 * MiB,
  4 * MiB,
];
for (const [kind, opcode] of KINDS) {
  const group = opcode === OP.text ? "9.3" : "9.4";
  FRAGMENT_SIZES.forEach((size, i) => {
    test(
      `conformance ${group}.${
        i + 1
      }: a 4 MiB ${kind} message in ${size}-byte fragments is echoed`,
      () =>
        echoCase(async (peer) => {
          const payload = payloadFor(opcode, 4 * MiB);
          await peer.write(fragmented(opcode, payload, size));
          await expectEcho(peer, opcode, payload);
        }),
    );
  });
}

// ---- 9.5 / 9.6: a 1 MiB frame written in small chunks ----

const CHOPS = [64, 128, 256, 512, 1024, 2048];
for (const [kind, opcode] of KINDS) {
  const group = opcode === OP.text ? "9.5" : "9.6";
  CHOPS.forEach((chop, i) => {
    test(
      `conformance ${group}.${
        i + 1
      }: a 1 MiB ${kind} frame written in ${chop}-byte chunks is echoed`,
      () =>
        echoCase(async (peer) => {
          const payload = payloadFor(opcode, 1 * MiB);
          await peer.write(masked(opcode, payload), { chunk: chop });
          await expectEcho(peer, opcode, payload);
        }),
    );
  });
}

// ---- 9.7 / 9.8: many messages, one round trip each ----

const ROUND_TRIP_SIZES = [0, 16, 64, 256, 1024, 4096];
const ROUND_TRIPS = 1000;
for (const [kind, opcode] of KINDS) {
  const group = opcode === OP.text ? "9.7" : "9.8";
  ROUND_TRIP_SIZES.forEach((size, i) => {
    test(
      `conformance ${group}.${
        i + 1
      }: ${ROUND_TRIPS} ${kind} messages of ${size} bytes, each after the previous echo`,
      () =>
        echoCase(async (peer) => {
          const payload = payloadFor(opcode, size);
          const expected = summaryFor(opcode, payload);
          for (let k = 0; k < ROUND_TRIPS; k++) {
            await peer.write(masked(opcode, payload));
            const frame = await peer.frame();
            if (frame.opcode !== opcode || frame.payload.length !== size) {
              assert.fail(`message ${k}: ${JSON.stringify(peer.summary())}`);
            }
          }
          await expectThenClose(peer, Array(ROUND_TRIPS).fill(expected));
        }),
    );
  });
}

test("conformance 9 (extra): 10,000 small messages in flight at once are echoed in order", () =>
  echoCase(async (peer) => {
    const count = 10_000;
    const frames: Uint8Array[] = [];
    const expected: string[] = [];
    for (let k = 0; k < count; k++) {
      const message = `message ${k}`;
      frames.push(masked(k % 2 ? OP.binary : OP.text, message));
      expected.push(
        k % 2 ? binary(new TextEncoder().encode(message)) : text(message),
      );
    }
    const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let offset = 0;
    for (const f of frames) {
      all.set(f, offset);
      offset += f.length;
    }
    await peer.write(all, { chunk: 4096 });
    await expectThenClose(peer, expected);
  }));

test("conformance 9 (extra): a 64 KiB text message in 1-byte fragments is echoed", () =>
  echoCase(async (peer) => {
    const payload = textPayload(64 * KiB);
    await peer.write(fragmented(OP.text, payload, 1));
    await expectEcho(peer, OP.text, payload);
  }));

test("conformance 9 (extra): a 64 KiB binary message in 1-byte fragments, written in 1000-byte chunks", () =>
  echoCase(async (peer) => {
    const payload = pattern(64 * KiB);
    await peer.write(fragmented(OP.binary, payload, 1), { chunk: 1000 });
    await expectEcho(peer, OP.binary, payload);
  }));

// ---- 10: a fragmented message is reassembled, whatever the fragment size ----

const AUTO_SIZES = [1300, 1, 2, 7, 125, 126, 127, 128, 4096, 65535];
for (const [kind, opcode] of KINDS) {
  for (const size of AUTO_SIZES) {
    const name = size === 1300 ? "10.1.1" : "10.1 (extra)";
    test(`conformance ${name}: a 64 KiB ${kind} message in ${size}-byte fragments is reassembled`, () =>
      echoCase(async (peer) => {
        const payload = payloadFor(opcode, 64 * KiB);
        await peer.write(fragmented(opcode, payload, size), { chunk: 8191 });
        await expectEcho(peer, opcode, payload);
      }));
  }
}

test("conformance 9 (extra): a frame declaring more than the 64 MiB message limit fails with 1009 at its header", () =>
  echoCase(async (peer) => {
    const header = new Uint8Array(14);
    header[0] = 0x82;
    header[1] = 0xff;
    new DataView(header.buffer).setUint32(6, 64 * MiB + 1);
    header.set([1, 2, 3, 4], 10);
    await peer.write(header);
    assert.deepEqual(await peer.untilEnd(), ["close:1009"]);
  }));

test("conformance 9 (extra): fragments summing past the 64 MiB limit fail with 1009 at the header that crosses it", () =>
  echoCase(async (peer) => {
    await peer.write(masked(OP.binary, pattern(1024), { fin: false }));
    const header = new Uint8Array(14);
    header[0] = 0x00;
    header[1] = 0xff;
    new DataView(header.buffer).setUint32(6, 64 * MiB - 1023);
    header.set([1, 2, 3, 4], 10);
    await peer.write(header);
    assert.deepEqual(await peer.untilEnd(), ["close:1009"]);
  }));

test("conformance 9 (extra): 24 MiB of messages sent while the client does not read are all echoed once it reads (flow control)", () =>
  echoCase(async (peer) => {
    peer.socket.pause();
    const payloads = Array.from({ length: 24 }, (_, k) => {
      const p = pattern(MiB);
      p[0] = k;
      return p;
    });
    for (const p of payloads) await peer.write(masked(OP.binary, p));
    // Let the server fill its send buffer and stop reading from us.
    await new Promise((resolve) => setTimeout(resolve, 200));
    peer.socket.resume();
    for (const p of payloads) {
      const frame = await peer.frame();
      assert.equal(frame.payload.length, p.length);
      assert.equal(frame.payload[0], p[0]);
      assert.ok(Buffer.from(frame.payload).equals(Buffer.from(p)));
    }
    await expectThenClose(peer, payloads.map((p) => binary(p)));
  }));
