/**
 * Autobahn TestSuite section 6 (UTF-8 handling) against wskit's echo
 * server, from a raw TCP client: valid text is echoed, invalid text fails
 * the connection with 1007 — at the first invalid byte, without waiting for
 * the rest of the frame or message.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  bytes,
  close,
  echoCase,
  expectThenClose,
  hex,
  masked,
  OP,
  text,
} from "./harness.ts";
import {
  HELLO_UTF8,
  KOSME,
  KOSME_SURROGATE_EDITED,
  UTF8_VECTORS,
} from "./utf8_vectors.ts";

/** A text message in 1-byte fragments. */
function oneByteFragments(payload: Uint8Array): Uint8Array {
  const frames = Array.from(
    payload,
    (byte, i) =>
      masked(i === 0 ? OP.text : OP.cont, new Uint8Array([byte]), {
        fin: i === payload.length - 1,
      }),
  );
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let o = 0;
  for (const f of frames) {
    out.set(f, o);
    o += f.length;
  }
  return out;
}

/** Sends `payload` as one text frame: valid text is echoed, invalid gets 1007. */
function vectorCase(payload: Uint8Array, valid: boolean): Promise<void> {
  return echoCase(async (peer) => {
    await peer.write(masked(OP.text, payload));
    if (valid) await expectThenClose(peer, [text(payload)]);
    else assert.deepEqual(await peer.untilEnd(), [close(1007)]);
  });
}

/** The same in 1-byte fragments (a second connection). */
function fragmentedVectorCase(
  payload: Uint8Array,
  valid: boolean,
): Promise<void> {
  return echoCase(async (peer) => {
    if (payload.length === 0) {
      await peer.write(masked(OP.text, payload));
    } else {
      await peer.write(oneByteFragments(payload));
    }
    if (valid) await expectThenClose(peer, [text(payload)]);
    else assert.deepEqual(await peer.untilEnd(), [close(1007)]);
  });
}

// ---- 6.1: empty payloads ----

test("conformance 6.1.1: a zero-length text message is echoed", () =>
  vectorCase(new Uint8Array(0), true));

test("conformance 6.1.2: a text message of 3 empty fragments is echoed empty", () =>
  echoCase(async (peer) => {
    await peer.write(
      new Uint8Array([
        ...masked(OP.text, "", { fin: false }),
        ...masked(OP.cont, "", { fin: false }),
        ...masked(OP.cont, ""),
      ]),
    );
    await expectThenClose(peer, [text("")]);
  }));

test("conformance 6.1.3: empty, non-empty, empty fragments echo the middle payload", () =>
  echoCase(async (peer) => {
    await peer.write(
      new Uint8Array([
        ...masked(OP.text, "", { fin: false }),
        ...masked(OP.cont, "middle frame payload", { fin: false }),
        ...masked(OP.cont, ""),
      ]),
    );
    await expectThenClose(peer, [text("middle frame payload")]);
  }));

// ---- 6.2: valid UTF-8, whole and fragmented ----

test("conformance 6.2.1: valid UTF-8 in one fragment is echoed", () =>
  vectorCase(HELLO_UTF8, true));

test("conformance 6.2.2: valid UTF-8 in 2 fragments split on a code point boundary", () =>
  echoCase(async (peer) => {
    const cut = bytes("Hello-µ@ßöä").length;
    await peer.write(
      new Uint8Array([
        ...masked(OP.text, HELLO_UTF8.subarray(0, cut), { fin: false }),
        ...masked(OP.cont, HELLO_UTF8.subarray(cut)),
      ]),
    );
    await expectThenClose(peer, [text(HELLO_UTF8)]);
  }));

test("conformance 6.2.3: valid UTF-8 in 1-byte fragments (cut inside code points)", () =>
  fragmentedVectorCase(HELLO_UTF8, true));

test("conformance 6.2.4: κόσμε in 1-byte fragments", () =>
  fragmentedVectorCase(KOSME, true));

// ---- 6.3: invalid UTF-8 ----

test("conformance 6.3.1: invalid UTF-8 (a surrogate) in one frame fails with 1007", () =>
  vectorCase(KOSME_SURROGATE_EDITED, false));

test("conformance 6.3.2: invalid UTF-8 in 1-byte fragments fails with 1007", () =>
  fragmentedVectorCase(KOSME_SURROGATE_EDITED, false));

// ---- 6.4: fail fast ----

test("conformance 6.4.1: fragments κόσμε | f4 90 80 80: 1007 arrives before the 3rd fragment is sent", () =>
  echoCase(async (peer) => {
    await peer.writeFrames(
      masked(OP.text, KOSME, { fin: false }),
      masked(OP.cont, hex("f4 90 80 80"), { fin: false }),
    );
    assert.deepEqual(await peer.untilEnd(), [close(1007)]);
  }));

test("conformance 6.4.2: fragments κόσμε f4 | 90 80 80: 1007 arrives before the 3rd fragment is sent", () =>
  echoCase(async (peer) => {
    await peer.writeFrames(
      masked(OP.text, hex("ce ba e1 bd b9 cf 83 ce bc ce b5 f4"), {
        fin: false,
      }),
      masked(OP.cont, hex("90 80 80"), { fin: false }),
    );
    assert.deepEqual(await peer.untilEnd(), [close(1007)]);
  }));

/** One frame whose declared length covers `payload`; only `sent` bytes of it go out. */
function prefixOfFrame(
  payload: Uint8Array,
  sent: number,
  opcode: number = OP.text,
): Uint8Array {
  const frame = masked(opcode, payload);
  const header = frame.length - payload.length;
  return frame.subarray(0, header + sent);
}

test("conformance 6.4.3: one frame, payload sent in parts; 1007 after the part with f4 90 80 80, before the rest", () =>
  echoCase(async (peer) => {
    const payload = hex(
      "ce ba e1 bd b9 cf 83 ce bc ce b5 f4 90 80 80 65 64 69 74 65 64",
    );
    const frame = masked(OP.text, payload);
    const header = frame.length - payload.length;
    await peer.writeFrames(frame.slice(0, header + 11));
    await peer.writeFrames(frame.slice(header + 11, header + 15));
    assert.deepEqual(await peer.untilEnd(), [close(1007)]);
  }));

test("conformance 6.4.4: one frame, payload sent in parts; 1007 right after the byte 90 that follows f4", () =>
  echoCase(async (peer) => {
    const payload = hex(
      "ce ba e1 bd b9 cf 83 ce bc ce b5 f4 90 80 80 65 64 69 74 65 64",
    );
    const frame = masked(OP.text, payload);
    const header = frame.length - payload.length;
    await peer.writeFrames(frame.slice(0, header + 12));
    await peer.writeFrames(frame.slice(header + 12, header + 13));
    assert.deepEqual(await peer.untilEnd(), [close(1007)]);
  }));

test("conformance 6.4 (extra): a frame declared 1 MiB long fails 1007 from its first 20 bytes", () =>
  echoCase(async (peer) => {
    const payload = new Uint8Array(1024 * 1024).fill(0x61);
    payload.set(KOSME_SURROGATE_EDITED, 0);
    await peer.write(prefixOfFrame(payload, 20));
    assert.deepEqual(await peer.untilEnd(), [close(1007)]);
  }));

test("conformance 6.4 (extra): a 64 KiB continuation frame fails 1007 at its 11th byte, before the rest is sent", () =>
  echoCase(async (peer) => {
    await peer.write(masked(OP.text, "a".repeat(100), { fin: false }));
    const second = new Uint8Array(65536).fill(0x62);
    second[10] = 0xff;
    await peer.write(prefixOfFrame(second, 11, OP.cont));
    assert.deepEqual(await peer.untilEnd(), [close(1007)]);
  }));

// ---- 6.5-6.23: the UTF-8 decoder capability and stress test vectors ----

for (const [section, what, payload, valid] of UTF8_VECTORS) {
  const outcome = valid ? "is echoed" : "fails with 1007";
  test(`conformance ${section}: ${what} ${outcome}`, async () => {
    await vectorCase(payload, valid);
    await fragmentedVectorCase(payload, valid);
  });
}

test("conformance 6.x (extra): invalid UTF-8 after a valid message: echo, then 1007", () =>
  echoCase(async (peer) => {
    await peer.write(masked(OP.text, KOSME));
    await peer.frame();
    await peer.write(masked(OP.text, hex("61 62 c0 af")));
    assert.deepEqual(await peer.untilEnd(), [text(KOSME), close(1007)]);
  }));

test("conformance 6.x (extra): binary messages are not checked for UTF-8", () =>
  echoCase(async (peer) => {
    await peer.write(masked(OP.binary, KOSME_SURROGATE_EDITED));
    const frame = await peer.frame();
    assert.equal(frame.opcode, OP.binary);
    assert.deepEqual(frame.payload, KOSME_SURROGATE_EDITED);
  }));
