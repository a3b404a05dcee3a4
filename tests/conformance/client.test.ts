/**
 * The Autobahn TestSuite sections in the other direction: a raw TCP server
 * (node:net, handshake by hand) sends exact bytes to wskit's `WebSocket`
 * client. The cases check the client's events and the bytes it sends back,
 * which must all be masked.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  binary,
  bytes,
  clientCase,
  type ClientLog,
  close,
  closeInfo,
  closePayload,
  finish,
  hex,
  OP,
  pattern,
  plain,
  pong,
  type RawPeer,
  text,
  withTimeout,
} from "./harness.ts";
import { KOSME, UTF8_VECTORS } from "./utf8_vectors.ts";
import { VALID_CLOSE_CODES } from "../helpers.ts";

function join(...frames: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let offset = 0;
  for (const f of frames) {
    out.set(f, offset);
    offset += f.length;
  }
  return out;
}

/**
 * The client must fail the connection: send a (masked) close with `code`,
 * close TCP, report `error` with `code`, then `close` 1006 not clean (as
 * browsers report a failed connection). `before` lists events expected
 * between `open` and the error.
 */
async function expectClientFailure(
  peer: RawPeer,
  log: ClientLog,
  code: number,
  before: string[] = [],
): Promise<void> {
  assert.deepEqual(await peer.untilEnd(), [close(code)]);
  await withTimeout(log.closed, "the close event", () => log.events);
  assert.deepEqual(log.events, [
    "open",
    ...before,
    `error:${code}`,
    "close:1006:false",
  ]);
}

/**
 * A clean close started by the server: the client echoes the close
 * (masked, same payload), the server ends TCP, the client reports `close`
 * with the code and reason, wasClean true.
 */
async function serverCloses(
  peer: RawPeer,
  log: ClientLog,
  payload: Uint8Array = closePayload(1000),
): Promise<void> {
  peer.socket.write(plain(OP.close, payload));
  const echo = await peer.frame();
  assert.equal(echo.opcode, OP.close);
  assert.equal(echo.masked, true);
  assert.deepEqual(echo.payload, payload);
  const event = await finish(peer, log);
  const info = closeInfo(echo);
  assert.equal(event.code, info.code ?? 1005);
  assert.equal(event.reason, info.reason);
  assert.equal(event.wasClean, true);
}

// ---- 1: framing ----

const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];
for (const [kind, opcode] of [["text", OP.text], ["binary", OP.binary]]) {
  const group = opcode === OP.text ? "1.1" : "1.2";
  LENGTHS.forEach((n, i) => {
    test(
      `conformance client ${group}.${
        i + 1
      }: a ${kind} message of ${n} bytes arrives whole, whole and in chunks`,
      () =>
        clientCase(async (peer, _ws, log) => {
          const payload = pattern(n, opcode === OP.text);
          const frame = plain(opcode as number, payload);
          await peer.write(frame);
          await peer.write(frame, {
            chunk: n <= 128 ? 1 : 997,
            pace: n <= 128,
          });
          const expected = opcode === OP.text
            ? new TextDecoder().decode(payload)
            : payload;
          assert.deepEqual(await log.nextMessage(), expected);
          assert.deepEqual(await log.nextMessage(), expected);
          await serverCloses(peer, log);
        }),
    );
  });
}

test("conformance client 1.x: text and binary sent by the client are masked frames with the right opcode", () =>
  clientCase(async (peer, ws, log) => {
    ws.send("Hello, κόσμε");
    ws.send(new Uint8Array([0, 1, 2, 255]));
    ws.send(pattern(70000));
    ws.send("");
    for (let i = 0; i < 4; i++) await peer.frame();
    assert.deepEqual(peer.summary(), [
      text("Hello, κόσμε"),
      binary(new Uint8Array([0, 1, 2, 255])),
      binary(pattern(70000)),
      text(""),
    ]);
    assert.ok(peer.frames.every((f) => f.masked && f.fin && f.rsv === 0));
    await serverCloses(peer, log);
  }));

test("conformance client 1.x: a masked frame from the server fails the connection with 1002", () =>
  clientCase(async (peer, _ws, log) => {
    await peer.write(plain(OP.text, "masked", { mask: hex("01020304") }));
    await expectClientFailure(peer, log, 1002);
  }));

// ---- 2: pings and pongs ----

const PINGS: [string, string, Uint8Array][] = [
  ["2.1", "no payload", new Uint8Array(0)],
  ["2.2", "a small text payload", bytes("Hello, world!")],
  ["2.3", "a small binary payload", hex("00 ff fe fd fc fb 00 ff")],
  ["2.4", "a 125-byte payload", new Uint8Array(125).fill(0xfe)],
];
for (const [section, what, payload] of PINGS) {
  test(`conformance client ${section}: a ping with ${what} gets a masked pong with the same payload`, () =>
    clientCase(async (peer, _ws, log) => {
      await peer.write(plain(OP.ping, payload));
      await peer.frame();
      assert.deepEqual(peer.summary(), [pong(payload)]);
      await serverCloses(peer, log);
    }));
}

test("conformance client 2.5: a ping with a 126-byte payload fails the connection with 1002", () =>
  clientCase(async (peer, _ws, log) => {
    await peer.write(plain(OP.ping, new Uint8Array(126).fill(0xfe)));
    await expectClientFailure(peer, log, 1002);
  }));

test("conformance client 2.6: a 125-byte ping written in 1-byte chunks gets its pong", () =>
  clientCase(async (peer, _ws, log) => {
    const payload = new Uint8Array(125).fill(0xfe);
    await peer.write(plain(OP.ping, payload), { chunk: 1, pace: true });
    await peer.frame();
    assert.deepEqual(peer.summary(), [pong(payload)]);
    await serverCloses(peer, log);
  }));

test("conformance client 2.7-2.9: unsolicited pongs are ignored; a ping after them is answered", () =>
  clientCase(async (peer, _ws, log) => {
    await peer.write(plain(OP.pong));
    await peer.write(plain(OP.pong, "unsolicited pong payload"));
    await peer.write(plain(OP.ping, "ping payload"));
    await peer.frame();
    assert.deepEqual(peer.summary(), [pong("ping payload")]);
    await serverCloses(peer, log);
    assert.deepEqual(peer.summary(), [pong("ping payload"), close(1000)]);
  }));

test("conformance client 2.10-2.11: 10 pings, whole and in 1-byte chunks, get 10 pongs each in order", () =>
  clientCase(async (peer, _ws, log) => {
    const payloads = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
    await peer.write(join(...payloads.map((p) => plain(OP.ping, p))));
    for (const p of payloads) {
      await peer.write(plain(OP.ping, p), { chunk: 1, pace: true });
    }
    for (let i = 0; i < 20; i++) await peer.frame();
    assert.deepEqual(peer.summary(), [
      ...payloads.map((p) => pong(p)),
      ...payloads.map((p) => pong(p)),
    ]);
    await serverCloses(peer, log);
  }));

test("conformance client 2.x: ping() sends a masked ping; the pong is reported", () =>
  clientCase(async (peer, ws, log) => {
    const pongs: unknown[] = [];
    ws.addEventListener("pong", (e) => pongs.push((e as MessageEvent).data));
    ws.ping("are you there");
    const frame = await peer.frame();
    assert.equal(frame.opcode, OP.ping);
    assert.equal(frame.masked, true);
    await peer.write(plain(OP.pong, frame.payload));
    await peer.write(plain(OP.text, "after the pong"));
    assert.equal(await log.nextMessage(), "after the pong");
    assert.deepEqual(pongs, [bytes("are you there")]);
    await serverCloses(peer, log);
  }));

// ---- 3: reserved bits ----

const RSV: [string, string, Uint8Array][] = [
  ["3.1", "a text frame with RSV1", plain(OP.text, "Hello", { rsv: 1 })],
  ["3.5", "a binary frame with RSV5", plain(OP.binary, "\x00", { rsv: 5 })],
  ["3.6", "a ping with RSV6", plain(OP.ping, "Hello", { rsv: 6 })],
  ["3.7", "a close with RSV7", plain(OP.close, closePayload(1000), { rsv: 7 })],
];
for (const [section, what, frame] of RSV) {
  test(`conformance client ${section}: ${what} fails the connection with 1002`, () =>
    clientCase(async (peer, _ws, log) => {
      await peer.write(frame);
      await expectClientFailure(peer, log, 1002);
    }));
}

test("conformance client 3.2-3.4: text, text with RSV2, ping: the message, then 1002 and no pong", () =>
  clientCase(async (peer, _ws, log) => {
    await peer.write(join(
      plain(OP.text, "Hello, world!"),
      plain(OP.text, "Hello, world!", { rsv: 2 }),
      plain(OP.ping),
    ));
    await expectClientFailure(peer, log, 1002, [
      `message:${text("Hello, world!")}`,
    ]);
  }));

// ---- 4: opcodes ----

for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
  const section = opcode < 8 ? "4.1" : "4.2";
  test(`conformance client ${section}: reserved opcode ${opcode} after a message fails with 1002`, () =>
    clientCase(async (peer, _ws, log) => {
      await peer.write(join(
        plain(OP.text, "Hello, world!"),
        plain(opcode, "payload"),
        plain(OP.ping),
      ));
      await expectClientFailure(peer, log, 1002, [
        `message:${text("Hello, world!")}`,
      ]);
    }));
}

// ---- 5: fragmentation ----

test("conformance client 5.1: a ping in 2 fragments fails with 1002", () =>
  clientCase(async (peer, _ws, log) => {
    await peer.write(join(
      plain(OP.ping, "fragment1", { fin: false }),
      plain(OP.cont, "fragment2"),
    ));
    await expectClientFailure(peer, log, 1002);
  }));

test("conformance client 5.2: a pong in 2 fragments fails with 1002", () =>
  clientCase(async (peer, _ws, log) => {
    await peer.write(join(
      plain(OP.pong, "fragment1", { fin: false }),
      plain(OP.cont, "fragment2"),
    ));
    await expectClientFailure(peer, log, 1002);
  }));

test("conformance client 5.3-5.8: text in 2 fragments with a ping between, whole, frame-wise and in 1-byte chunks", () =>
  clientCase(async (peer, _ws, log) => {
    const frames = [
      plain(OP.text, "fragment1", { fin: false }),
      plain(OP.ping, "pongme!"),
      plain(OP.cont, "fragment2"),
    ];
    await peer.write(join(...frames));
    await peer.writeFrames(...frames);
    await peer.write(join(...frames), { chunk: 1, pace: true });
    for (let i = 0; i < 3; i++) {
      assert.equal(await log.nextMessage(), "fragment1fragment2");
      await peer.frame();
    }
    assert.deepEqual(peer.summary(), Array(3).fill(pong("pongme!")));
    await serverCloses(peer, log);
  }));

for (
  const [section, what, frames] of [
    ["5.9", "a final continuation with nothing to continue", [
      plain(OP.cont, "non-continuation payload"),
      plain(OP.text, "Hello, world!"),
    ]],
    ["5.12", "a non-final continuation with nothing to continue", [
      plain(OP.cont, "non-continuation payload", { fin: false }),
      plain(OP.text, "Hello, world!"),
    ]],
    ["5.18", "a new text frame inside a fragmented message", [
      plain(OP.text, "fragment1", { fin: false }),
      plain(OP.text, "fragment2"),
    ]],
  ] as [string, string, Uint8Array[]][]
) {
  test(`conformance client ${section}: ${what} fails with 1002`, () =>
    clientCase(async (peer, _ws, log) => {
      await peer.write(join(...frames));
      await expectClientFailure(peer, log, 1002);
    }));
}

test("conformance client 5.19-5.20: text in 5 fragments with pings between: pongs, then the message", () =>
  clientCase(async (peer, _ws, log) => {
    await peer.writeFrames(
      plain(OP.text, "fragment1", { fin: false }),
      plain(OP.cont, "fragment2", { fin: false }),
      plain(OP.ping, "pongme 1!"),
      plain(OP.cont, "fragment3", { fin: false }),
      plain(OP.cont, "fragment4", { fin: false }),
      plain(OP.ping, "pongme 2!"),
      plain(OP.cont, "fragment5"),
    );
    assert.equal(
      await log.nextMessage(),
      "fragment1fragment2fragment3fragment4fragment5",
    );
    await peer.frame();
    await peer.frame();
    assert.deepEqual(peer.summary(), [pong("pongme 1!"), pong("pongme 2!")]);
    await serverCloses(peer, log);
  }));

// ---- 6: UTF-8 ----

const GROUPS = new Map<string, [string, string, Uint8Array, boolean][]>();
for (const vector of UTF8_VECTORS) {
  const group = vector[0].split(".").slice(0, 2).join(".");
  GROUPS.set(group, [...(GROUPS.get(group) ?? []), vector]);
}
for (const [group, vectors] of GROUPS) {
  test(`conformance client ${group}: ${vectors.length} UTF-8 vectors, each whole and in 1-byte fragments`, async () => {
    for (const [section, what, payload, valid] of vectors) {
      for (const split of [false, true]) {
        const data = split && payload.length > 0
          ? join(
            ...Array.from(payload, (b, i) =>
              plain(i === 0 ? OP.text : OP.cont, new Uint8Array([b]), {
                fin: i === payload.length - 1,
              })),
          )
          : plain(OP.text, payload);
        await clientCase(async (peer, _ws, log) => {
          await peer.write(data);
          if (valid) {
            assert.equal(
              await log.nextMessage(),
              new TextDecoder().decode(payload),
              `${section} ${what}`,
            );
            await serverCloses(peer, log);
          } else {
            await expectClientFailure(peer, log, 1007).catch((error) => {
              throw new Error(`${section} ${what}: ${error.message}`);
            });
          }
        });
      }
    }
  });
}

test("conformance client 6.4: fail fast: a frame declared 64 KiB long fails 1007 from its first bytes", () =>
  clientCase(async (peer, _ws, log) => {
    const payload = new Uint8Array(65536).fill(0x61);
    payload.set(KOSME);
    payload.set(hex("f4 90 80 80"), KOSME.length);
    const frame = plain(OP.text, payload);
    const header = frame.length - payload.length;
    await peer.write(frame.subarray(0, header + KOSME.length + 1));
    await peer.write(frame.subarray(header + KOSME.length + 1, header + 16));
    await expectClientFailure(peer, log, 1007);
  }));

test("conformance client 6.4: fail fast across fragments: 1007 before the final fragment", () =>
  clientCase(async (peer, _ws, log) => {
    await peer.writeFrames(
      plain(OP.text, KOSME, { fin: false }),
      plain(OP.cont, hex("f4 90 80 80"), { fin: false }),
    );
    await expectClientFailure(peer, log, 1007);
  }));

// ---- 7: close handling ----

test("conformance client 7.1.1: a message, then the server's clean close", () =>
  clientCase(async (peer, _ws, log) => {
    await peer.write(plain(OP.text, "Hello World!"));
    assert.equal(await log.nextMessage(), "Hello World!");
    await serverCloses(peer, log);
    assert.deepEqual(log.events, [
      "open",
      `message:${text("Hello World!")}`,
      "close:1000:true",
    ]);
  }));

test("conformance client 7.1.2-7.1.4: after the close, a close, a ping and a text are ignored", () =>
  clientCase(async (peer, _ws, log) => {
    await peer.write(join(
      plain(OP.close, closePayload(1000)),
      plain(OP.close, closePayload(1000)),
      plain(OP.ping, "Hello World!"),
      plain(OP.text, "Hello World!"),
    ));
    await peer.frame();
    const event = await finish(peer, log);
    assert.deepEqual(peer.summary(), [close(1000)]);
    assert.equal(event.wasClean, true);
    assert.deepEqual(log.events, ["open", "close:1000:true"]);
  }));

test("conformance client 7.1.5: fragment 1, close, fragment 2: the close is echoed, no message", () =>
  clientCase(async (peer, _ws, log) => {
    await peer.write(join(
      plain(OP.text, "fragment1", { fin: false }),
      plain(OP.close, closePayload(1000)),
      plain(OP.cont, "fragment2"),
    ));
    await peer.frame();
    await finish(peer, log);
    assert.deepEqual(peer.summary(), [close(1000)]);
    assert.deepEqual(log.events, ["open", "close:1000:true"]);
  }));

test("conformance client 7.1 (extra): close() sends a masked close with code and reason; the reply completes it", () =>
  clientCase(async (peer, ws, log) => {
    ws.close(4000, "done here");
    const frame = await peer.frame();
    assert.equal(frame.masked, true);
    assert.deepEqual(closeInfo(frame), { code: 4000, reason: "done here" });
    assert.equal(ws.readyState, ws.CLOSING);
    peer.socket.write(plain(OP.close, closePayload(4000, "done here")));
    const event = await finish(peer, log);
    assert.deepEqual([event.code, event.reason, event.wasClean], [
      4000,
      "done here",
      true,
    ]);
    ws.send("discarded after close");
    assert.deepEqual(peer.summary(), [close(4000)]);
  }));

test("conformance client 7.1 (extra): close() with no code sends an empty close; the event says 1005", () =>
  clientCase(async (peer, ws, log) => {
    ws.close();
    const frame = await peer.frame();
    assert.equal(frame.payload.length, 0);
    peer.socket.write(plain(OP.close));
    const event = await finish(peer, log);
    assert.deepEqual([event.code, event.wasClean], [1005, true]);
  }));

test("conformance client 7.1 (extra): the server drops TCP without a close: close 1006, not clean", () =>
  clientCase(async (peer, _ws, log) => {
    await peer.write(plain(OP.text, "bye"));
    assert.equal(await log.nextMessage(), "bye");
    peer.destroy();
    const event = await withTimeout(log.closed, "close", () => log.events);
    assert.deepEqual([event.code, event.wasClean], [1006, false]);
  }));

test("conformance client 7.1 (extra): the server never answers close(): close 1006 after the close timeout", () =>
  clientCase(async (peer, ws, log) => {
    ws.close(1000);
    await peer.frame();
    const event = await withTimeout(log.closed, "close", () => log.events);
    assert.deepEqual([event.code, event.wasClean], [1006, false]);
    assert.deepEqual(peer.summary(), [close(1000)]);
  }, { closeTimeout: 100 }));

test("conformance client 7.3.1: an empty close is echoed empty; the event says 1005", () =>
  clientCase((peer, _ws, log) => serverCloses(peer, log, new Uint8Array(0))));

test("conformance client 7.3.2: a close with a 1-byte payload fails with 1002", () =>
  clientCase(async (peer, _ws, log) => {
    await peer.write(plain(OP.close, new Uint8Array([3])));
    await expectClientFailure(peer, log, 1002);
  }));

test("conformance client 7.3.3-7.3.5: closes with code only, a reason, and a 123-byte reason are echoed", async () => {
  for (
    const reason of ["", "Hello World!", "*".repeat(120) + "µ!"]
  ) {
    await clientCase((peer, _ws, log) =>
      serverCloses(peer, log, closePayload(1000, reason))
    );
  }
});

test("conformance client 7.3.6: a close with a 124-byte reason fails with 1002", () =>
  clientCase(async (peer, _ws, log) => {
    await peer.write(plain(OP.close, closePayload(1000, "*".repeat(124))));
    await expectClientFailure(peer, log, 1002);
  }));

test("conformance client 7.5.1: a close reason that is not UTF-8 fails with 1007", () =>
  clientCase(async (peer, _ws, log) => {
    await peer.write(
      plain(
        OP.close,
        closePayload(
          1000,
          hex("ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64"),
        ),
      ),
    );
    await expectClientFailure(peer, log, 1007);
  }));

const VALID_CODES = VALID_CLOSE_CODES;
test(`conformance client 7.7: valid close codes (${VALID_CODES.join(", ")}) are echoed and reported`, async () => {
  for (const code of VALID_CODES) {
    await clientCase((peer, _ws, log) =>
      serverCloses(peer, log, closePayload(code, `code ${code}`))
    );
  }
});

const INVALID_CODES = [
  0,
  999,
  1004,
  1005,
  1006,
  1015,
  1016,
  1100,
  2000,
  2999,
  5000,
  65535,
];
test(`conformance client 7.9/7.13: invalid close codes (${INVALID_CODES.join(", ")}) fail with 1002`, async () => {
  for (const code of INVALID_CODES) {
    await clientCase(async (peer, _ws, log) => {
      await peer.write(plain(OP.close, closePayload(code)));
      await expectClientFailure(peer, log, 1002).catch((error) => {
        throw new Error(`code ${code}: ${error.message}`);
      });
    });
  }
});

// ---- 9 and 10: large, fragmented and many messages ----

for (
  const [section, size, opcode] of [
    ["9.1.3", 1024 * 1024, OP.text],
    ["9.2.3", 1024 * 1024, OP.binary],
    ["9.1.6", 16 * 1024 * 1024, OP.text],
    ["9.2.6", 16 * 1024 * 1024, OP.binary],
  ] as const
) {
  const kind = opcode === OP.text ? "text" : "binary";
  test(
    `conformance client ${section}: a ${
      size / 1024 / 1024
    } MiB ${kind} message arrives whole`,
    () =>
      clientCase(async (peer, _ws, log) => {
        const payload = pattern(size, opcode === OP.text);
        await peer.write(plain(opcode, payload));
        const got = await log.nextMessage();
        if (opcode === OP.text) {
          assert.equal(typeof got, "string");
          assert.equal((got as string).length, size);
          assert.ok(
            Buffer.from(got as string).equals(Buffer.from(payload)),
            "same text",
          );
        } else {
          assert.ok(
            Buffer.from(got as Uint8Array).equals(Buffer.from(payload)),
          );
        }
        await serverCloses(peer, log);
      }),
  );
}

test("conformance client 9.3-9.4: a 4 MiB message in 64-byte and 64 KiB fragments arrives whole", () =>
  clientCase(async (peer, _ws, log) => {
    const payload = pattern(4 * 1024 * 1024);
    for (const size of [64, 65536]) {
      const frames: Uint8Array[] = [];
      for (let offset = 0; offset < payload.length; offset += size) {
        frames.push(
          plain(
            offset === 0 ? OP.binary : OP.cont,
            payload.subarray(offset, offset + size),
            { fin: offset + size >= payload.length },
          ),
        );
      }
      await peer.write(join(...frames));
      const got = await log.nextMessage() as Uint8Array;
      assert.ok(Buffer.from(got).equals(Buffer.from(payload)));
    }
    await serverCloses(peer, log);
  }));

test("conformance client 9.7 (extra): 10,000 small messages in flight arrive in order", () =>
  clientCase(async (peer, _ws, log) => {
    const count = 10_000;
    await peer.write(
      join(
        ...Array.from({ length: count }, (_, k) => plain(OP.text, `m${k}`)),
      ),
      { chunk: 4096 },
    );
    for (let k = 0; k < count; k++) {
      const got = await log.nextMessage();
      if (got !== `m${k}`) assert.fail(`message ${k} was ${String(got)}`);
    }
    await serverCloses(peer, log);
  }));

test("conformance client 10.1.1: a 64 KiB message in fragments of 1300, 1, 125, 126 and 65535 bytes arrives whole", () =>
  clientCase(async (peer, _ws, log) => {
    const payload = pattern(65536, true);
    const expected = new TextDecoder().decode(payload);
    for (const size of [1300, 1, 125, 126, 65535]) {
      const frames: Uint8Array[] = [];
      for (let offset = 0; offset < payload.length; offset += size) {
        frames.push(
          plain(
            offset === 0 ? OP.text : OP.cont,
            payload.subarray(offset, offset + size),
            { fin: offset + size >= payload.length },
          ),
        );
      }
      await peer.write(join(...frames), { chunk: 8191 });
      assert.equal(await log.nextMessage(), expected, `fragments of ${size}`);
    }
    await serverCloses(peer, log);
  }));

test("conformance client 1.x: frames in the same write as the 101 response are delivered after open", () =>
  clientCase(
    async (peer, _ws, log) => {
      assert.equal(await log.nextMessage(), "early");
      await peer.frame();
      assert.deepEqual(peer.summary(), [pong("early ping")]);
      await serverCloses(peer, log);
      assert.deepEqual(log.events.slice(0, 2), [
        "open",
        `message:${text("early")}`,
      ]);
    },
    {
      early: join(plain(OP.text, "early"), plain(OP.ping, "early ping")),
    },
  ));

test("conformance client 1.x: a 64-bit length with the most significant bit set fails with 1002", () =>
  clientCase(async (peer, _ws, log) => {
    await peer.write(new Uint8Array([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1]));
    await expectClientFailure(peer, log, 1002);
  }));

test("conformance client 9 (extra): a frame declaring more than maxMessageSize fails with 1009 at its header", () =>
  clientCase(async (peer, _ws, log) => {
    await peer.write(new Uint8Array([0x82, 0x7e, 0x04, 0x01])); // 1025 bytes
    await expectClientFailure(peer, log, 1009);
  }, { maxMessageSize: 1024 }));

test("conformance client 7.1 (extra): the server sends close and ends TCP at once: close 1000, clean", () =>
  clientCase(async (peer, _ws, log) => {
    peer.socket.end(plain(OP.close, closePayload(1000, "bye")));
    const event = await withTimeout(log.closed, "close", () => log.events);
    assert.deepEqual([event.code, event.reason, event.wasClean], [
      1000,
      "bye",
      true,
    ]);
  }));
