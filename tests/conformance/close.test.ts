/**
 * Autobahn TestSuite section 7 (close handling) against wskit's echo
 * server, from a raw TCP client: the server answers a close with the same
 * code and reason and drops the TCP connection; bad close frames fail the
 * connection with 1002 (or 1007 for a reason that is not UTF-8); nothing
 * is answered after a close.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  close,
  closeInfo,
  closePayload,
  echoCase,
  expectThenClose,
  hex,
  masked,
  OP,
  pattern,
  text,
} from "./harness.ts";

/** Sends a close with `payload`; the server must echo it exactly and end. */
function echoedClose(payload: Uint8Array): Promise<void> {
  return echoCase(async (peer) => {
    await peer.write(masked(OP.close, payload));
    const got = await peer.untilEnd();
    assert.equal(got.length, 1, `one frame, got ${JSON.stringify(got)}`);
    assert.equal(peer.frames[0].opcode, OP.close);
    assert.deepEqual(peer.frames[0].payload, payload);
  });
}

/** Sends a close with `payload`; the server must fail with `code` and end. */
function failedClose(payload: Uint8Array, code: number): Promise<void> {
  return echoCase(async (peer) => {
    await peer.write(masked(OP.close, payload));
    assert.deepEqual(await peer.untilEnd(), [close(code)]);
  });
}

// ---- 7.1: basic close behaviour ----

test("conformance 7.1.1: a text message, then a clean close", () =>
  echoCase(async (peer) => {
    await peer.write(masked(OP.text, "Hello World!"));
    await expectThenClose(peer, [text("Hello World!")]);
  }));

test("conformance 7.1.2: a second close after the first is ignored", () =>
  echoCase(async (peer) => {
    await peer.write(masked(OP.close, closePayload(1000)));
    await peer.write(masked(OP.close, closePayload(1000)));
    assert.deepEqual(await peer.untilEnd(), [close(1000)]);
  }));

test("conformance 7.1.3: a ping after the close is not answered", () =>
  echoCase(async (peer) => {
    await peer.write(
      new Uint8Array([
        ...masked(OP.close, closePayload(1000)),
        ...masked(OP.ping, "Hello World!"),
      ]),
    );
    assert.deepEqual(await peer.untilEnd(), [close(1000)]);
  }));

test("conformance 7.1.4: a text message after the close is ignored", () =>
  echoCase(async (peer) => {
    await peer.write(masked(OP.close, closePayload(1000)));
    await peer.write(masked(OP.text, "Hello World!"));
    assert.deepEqual(await peer.untilEnd(), [close(1000)]);
  }));

test("conformance 7.1.5: fragment 1, close, fragment 2: the close is echoed, no message", () =>
  echoCase(async (peer) => {
    await peer.write(
      new Uint8Array([
        ...masked(OP.text, "fragment1", { fin: false }),
        ...masked(OP.close, closePayload(1000)),
        ...masked(OP.cont, "fragment2"),
      ]),
    );
    assert.deepEqual(await peer.untilEnd(), [close(1000)]);
  }));

test("conformance 7.1.6: a 256 KiB message, close, ping: close echoed, no pong (the echo is optional)", () =>
  echoCase(async (peer) => {
    const big = pattern(256 * 1024, true);
    await peer.write(
      new Uint8Array([
        ...masked(OP.text, big),
        ...masked(OP.close, closePayload(1000)),
        ...masked(OP.ping, "Hello World!"),
      ]),
    );
    const got = await peer.untilEnd();
    // Informational in Autobahn: the echo comes only if the server read the
    // message before the close (wskit handles one read at a time).
    assert.deepEqual(
      got,
      got.length === 2 ? [text(big), close(1000)] : [close(1000)],
    );
  }));

// ---- 7.3: close frame payloads ----

test("conformance 7.3.1: a close with an empty payload is echoed empty", () =>
  echoCase(async (peer) => {
    await peer.write(masked(OP.close));
    assert.deepEqual(await peer.untilEnd(), [close()]);
    assert.equal(peer.frames[0].payload.length, 0);
  }));

test("conformance 7.3.2: a close with a 1-byte payload fails with 1002", () =>
  failedClose(new Uint8Array([0x03]), 1002));

test("conformance 7.3.3: a close with code 1000 and no reason is echoed", () =>
  echoedClose(closePayload(1000)));

test("conformance 7.3.4: a close with code 1000 and a reason is echoed", () =>
  echoedClose(closePayload(1000, "Hello World!")));

test("conformance 7.3.5: a close with a 123-byte reason is echoed", () =>
  echoCase(async (peer) => {
    const reason = "*".repeat(120) + "µ!";
    assert.equal(new TextEncoder().encode(reason).length, 123);
    await peer.write(masked(OP.close, closePayload(1000, reason)));
    assert.deepEqual(await peer.untilEnd(), [close(1000)]);
    assert.deepEqual(closeInfo(peer.frames[0]), { code: 1000, reason });
  }));

test("conformance 7.3.6: a close with a 124-byte reason (126-byte payload) fails with 1002", () =>
  failedClose(closePayload(1000, "*".repeat(124)), 1002));

// ---- 7.5: the reason must be UTF-8 ----

test("conformance 7.5.1: a close whose reason is not UTF-8 fails with 1007", () =>
  failedClose(
    closePayload(
      1000,
      hex("ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64"),
    ),
    1007,
  ));

test("conformance 7.5 (extra): a close reason cut inside a character fails with 1007", () =>
  failedClose(closePayload(1000, hex("61 e2 82")), 1007));

// ---- 7.7: valid close codes are echoed ----

const VALID: [string, number][] = [
  ["7.7.1", 1000],
  ["7.7.2", 1001],
  ["7.7.3", 1002],
  ["7.7.4", 1003],
  ["7.7.5", 1007],
  ["7.7.6", 1008],
  ["7.7.7", 1009],
  ["7.7.8", 1010],
  ["7.7.9", 1011],
  ["7.7.10", 3000],
  ["7.7.11", 3999],
  ["7.7.12", 4000],
  ["7.7.13", 4999],
  ["7.7 (extra)", 1012],
  ["7.7 (extra)", 1013],
  ["7.7 (extra)", 1014],
];
for (const [section, code] of VALID) {
  test(`conformance ${section}: close code ${code} is echoed with its reason`, () =>
    echoedClose(closePayload(code, `code ${code}`)));
}

// ---- 7.9 and 7.13: invalid close codes fail the connection ----

const INVALID: [string, number][] = [
  ["7.9.1", 0],
  ["7.9.2", 999],
  ["7.9.3", 1004],
  ["7.9.4", 1005],
  ["7.9.5", 1006],
  ["7.9.6", 1016],
  ["7.9.7", 1100],
  ["7.9.8", 2000],
  ["7.9.9", 2999],
  ["7.9 (extra)", 1015],
  ["7.13.1", 5000],
  ["7.13.2", 65535],
];
for (const [section, code] of INVALID) {
  test(`conformance ${section}: close code ${code} fails with 1002`, () =>
    failedClose(closePayload(code), 1002));
}

// ---- the server starts the closing handshake ----

test("conformance 7 (extra): server.close() sends 1001 and drops TCP once the client answers", () =>
  echoCase(async (peer, server) => {
    const closing = server.close();
    const frame = await peer.frame();
    assert.deepEqual(closeInfo(frame).code, 1001);
    await peer.write(masked(OP.close, closePayload(1001)));
    assert.deepEqual(await peer.untilEnd(), [close(1001)]);
    await closing;
  }));

test("conformance 7 (extra): the server ignores data after its close frame, and its close is answered once", () =>
  echoCase(async (peer, server) => {
    const closing = server.close();
    await peer.frame();
    await peer.write(masked(OP.text, "late"));
    await peer.write(masked(OP.ping, "late"));
    await peer.write(masked(OP.close, closePayload(1000)));
    assert.deepEqual(await peer.untilEnd(), [close(1001)]);
    await closing;
  }));
