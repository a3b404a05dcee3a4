/**
 * permessage-deflate (RFC 7692): negotiation tables (offer → response or
 * decline; response → accept or handshake failure), the framing rules, the
 * RFC's own examples, bounded decompression and per-connection state.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { constants, deflateRawSync } from "node:zlib";
import { Connection, type ConnectionEvent } from "../core/connection.ts";
import type { Extension } from "../core/extension.ts";
import {
  type DeflateCodec,
  parseDeflateParams,
} from "../core/permessage_deflate.ts";
import { deflate, zlibCodec } from "../adapters/deflate.ts";
import {
  clientFrame,
  closeOf,
  concat,
  feed,
  messages,
  pump,
  serverFrame,
} from "./helpers.ts";
import {
  capture,
  codecWith,
  handshake,
  noise,
  parseFrames,
  pmd,
  text,
} from "./deflate_helpers.ts";

const SYNC = { finishFlush: constants.Z_SYNC_FLUSH };
const enc = new TextEncoder();
const ctx = codecWith(true);

/** Raw-deflates `data` and strips the sync-flush tail, as a peer would send it. */
function compressed(data: Uint8Array | string): Uint8Array {
  const out = deflateRawSync(
    typeof data === "string" ? enc.encode(data) : data,
    SYNC,
  );
  return out.subarray(0, out.length - 4);
}

/** A server-side instance, negotiated from `offer` params. */
function serverExtension(
  params: [string, string | true][] = [],
  options = {},
  codec: DeflateCodec = zlibCodec,
): Extension {
  const ext = pmd(options, codec).respond([
    { name: "permessage-deflate", params },
  ]);
  assert.ok(ext);
  return ext;
}

function openServer(ext = serverExtension(), maxMessageSize?: number) {
  return new Connection({
    role: "server",
    activeExtensions: [ext],
    maxMessageSize,
  });
}

function errorOf(events: readonly ConnectionEvent[]): string | undefined {
  const error = events.find((e) => e.type === "error");
  return error?.type === "error" ? error.message : undefined;
}

// ---- negotiation: the server's answer to an offer --------------------------

const serverTable: [options: object, offer: string, response: string | null][] =
  [
    [{}, "permessage-deflate", "permessage-deflate"],
    [{}, "permessage-deflate; client_max_window_bits", "permessage-deflate"],
    [
      {},
      "permessage-deflate; client_max_window_bits=10",
      "permessage-deflate; client_max_window_bits=10",
    ],
    [
      {},
      "permessage-deflate; server_max_window_bits=10",
      "permessage-deflate; server_max_window_bits=10",
    ],
    [
      {},
      'permessage-deflate; server_max_window_bits="12"',
      "permessage-deflate; server_max_window_bits=12",
    ],
    [
      {},
      "permessage-deflate; server_max_window_bits=8",
      "permessage-deflate; server_max_window_bits=8",
    ],
    [
      {},
      "permessage-deflate; server_no_context_takeover",
      "permessage-deflate; server_no_context_takeover",
    ],
    [
      {},
      "permessage-deflate; client_no_context_takeover",
      "permessage-deflate; client_no_context_takeover",
    ],
    [
      {},
      "PerMessage-Deflate; Server_No_Context_Takeover",
      "permessage-deflate; server_no_context_takeover",
    ],
    [
      {},
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9",
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9",
    ],
    // RFC 7692 §7.1.3: several offers, the first acceptable one wins.
    [
      {},
      "permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits",
      "permessage-deflate; server_max_window_bits=10",
    ],
    [{}, "x-webkit-deflate-frame, permessage-deflate", "permessage-deflate"],
    // invalid offers are declined, and the next one is tried
    [
      {},
      "permessage-deflate; server_max_window_bits=16, permessage-deflate",
      "permessage-deflate",
    ],
    [{}, "permessage-deflate; server_max_window_bits", null],
    [{}, "permessage-deflate; server_max_window_bits=7", null],
    [{}, "permessage-deflate; server_max_window_bits=010", null],
    [{}, "permessage-deflate; server_max_window_bits=+9", null],
    [{}, "permessage-deflate; client_max_window_bits=16", null],
    [{}, "permessage-deflate; client_max_window_bits=abc", null],
    [{}, "permessage-deflate; server_no_context_takeover=1", null],
    [{}, "permessage-deflate; client_no_context_takeover=yes", null],
    [
      {},
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      null,
    ],
    [
      {},
      "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
      null,
    ],
    [{}, "permessage-deflate; mode=fast", null],
    [{}, "permessage-deflate; foo, permessage-deflate; bar", null],
    [{}, "permessage-deflate; a=b c", null], // malformed header: nothing accepted
    [{}, "x-something-else", null],
    // the server's own settings
    [
      { serverNoContextTakeover: true },
      "permessage-deflate",
      "permessage-deflate; server_no_context_takeover",
    ],
    [
      { clientNoContextTakeover: true },
      "permessage-deflate",
      "permessage-deflate; client_no_context_takeover",
    ],
    [
      { serverMaxWindowBits: 10 },
      "permessage-deflate",
      "permessage-deflate; server_max_window_bits=10",
    ],
    [
      { serverMaxWindowBits: 10 },
      "permessage-deflate; server_max_window_bits=12",
      "permessage-deflate; server_max_window_bits=10",
    ],
    [
      { serverMaxWindowBits: 12 },
      "permessage-deflate; server_max_window_bits=9",
      "permessage-deflate; server_max_window_bits=9",
    ],
    [{ clientMaxWindowBits: 10 }, "permessage-deflate", null],
    [
      { clientMaxWindowBits: 10 },
      "permessage-deflate, permessage-deflate; client_max_window_bits",
      "permessage-deflate; client_max_window_bits=10",
    ],
    [
      { clientMaxWindowBits: 10 },
      "permessage-deflate; client_max_window_bits=12",
      "permessage-deflate; client_max_window_bits=10",
    ],
    [
      { clientMaxWindowBits: 10 },
      "permessage-deflate; client_max_window_bits=9",
      "permessage-deflate; client_max_window_bits=9",
    ],
    [{ clientMaxWindowBits: 15 }, "permessage-deflate", "permessage-deflate"],
    [
      { clientMaxWindowBits: false },
      "permessage-deflate",
      "permessage-deflate",
    ],
  ];

test("deflate: the server answers each offer as RFC 7692 says (table)", () => {
  for (const [options, offer, expected] of serverTable) {
    const { server } = handshake({ offer, server: [pmd(options, ctx)] });
    const label = `${JSON.stringify(options)} ${offer}`;
    assert.equal(server.state, 1, label);
    assert.equal(server.extensions, expected ?? "", label);
  }
});

// ---- negotiation: the client's check of the response ----------------------

const clientTable: [options: object, response: string, error: RegExp | null][] =
  [
    [{}, "permessage-deflate", null],
    [{}, "", null],
    [{}, "permessage-deflate; server_no_context_takeover", null],
    [{}, "permessage-deflate; client_no_context_takeover", null],
    [{}, "permessage-deflate; server_max_window_bits=10", null],
    [{}, "permessage-deflate; server_max_window_bits=8", null],
    [{}, "permessage-deflate; client_max_window_bits=10", null],
    [{}, "permessage-deflate; client_max_window_bits=8", null],
    [{}, 'permessage-deflate; client_max_window_bits="9"', null],
    [{}, "permessage-deflate; client_max_window_bits", /needs a value/],
    [{}, "permessage-deflate; server_max_window_bits", /8 to 15/],
    [{}, "permessage-deflate; server_max_window_bits=16", /8 to 15/],
    [{}, "permessage-deflate; server_max_window_bits=7", /8 to 15/],
    [{}, "permessage-deflate; client_max_window_bits=09", /8 to 15/],
    [{}, "permessage-deflate; client_max_window_bits=0", /8 to 15/],
    [{}, "permessage-deflate; server_no_context_takeover=1", /takes no value/],
    [{}, "permessage-deflate; foo", /unknown parameter foo/],
    [
      {},
      "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
      /duplicate/,
    ],
    [{}, "permessage-deflate, permessage-deflate", /twice/],
    [{}, "x-unknown", /not offered/],
    [{ serverNoContextTakeover: true }, "permessage-deflate", /lacks/],
    [
      { serverNoContextTakeover: true },
      "permessage-deflate; server_no_context_takeover",
      null,
    ],
    [{ serverMaxWindowBits: 10 }, "permessage-deflate", /lacks/],
    [
      { serverMaxWindowBits: 10 },
      "permessage-deflate; server_max_window_bits=11",
      /above/,
    ],
    [
      { serverMaxWindowBits: 10 },
      "permessage-deflate; server_max_window_bits=9",
      null,
    ],
    [
      { clientMaxWindowBits: 10 },
      "permessage-deflate; client_max_window_bits=11",
      /above/,
    ],
    [
      { clientMaxWindowBits: 10 },
      "permessage-deflate; client_max_window_bits=9",
      null,
    ],
    [{ clientMaxWindowBits: 10 }, "permessage-deflate", null],
    [
      { clientMaxWindowBits: false },
      "permessage-deflate; client_max_window_bits=9",
      /did not offer/,
    ],
  ];

test("deflate: the client accepts valid responses and fails the handshake on invalid ones (table)", () => {
  for (const [options, response, error] of clientTable) {
    const { client, events } = handshake({
      client: [pmd(options, ctx)],
      response,
    });
    const label = `${JSON.stringify(options)} ${response}`;
    if (error === null) {
      assert.equal(events[0]?.type, "open", label);
      assert.equal(client.extensions, response, label);
    } else {
      const message = errorOf(events);
      assert.ok(
        message !== undefined && error.test(message),
        `${label}: ${message}`,
      );
      assert.equal(closeOf(events).code, 1006, label);
    }
  }
});

test("deflate: the client's offer follows its options", () => {
  const cases: [object, string][] = [
    [{}, "permessage-deflate; client_max_window_bits"],
    [{ clientMaxWindowBits: false }, "permessage-deflate"],
    [
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 12,
      },
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
    ],
  ];
  for (const [options, offer] of cases) {
    assert.equal(pmd(options, ctx).offer(), offer);
    const request = new TextDecoder().decode(
      concat(
        ...Connection.client("ws://h/", {
          extensionNegotiators: [pmd(options, ctx)],
        }).takeOutput(),
      ),
    );
    assert.ok(
      request.includes(`\r\nSec-WebSocket-Extensions: ${offer}\r\n`),
      request,
    );
  }
});

test("deflate: a codec that cannot prime its compressor says so in the handshake", () => {
  const plain = codecWith(false);
  assert.equal(
    pmd({}, plain).offer(),
    "permessage-deflate; client_no_context_takeover; client_max_window_bits",
  );
  const { server } = handshake({
    offer: "permessage-deflate",
    server: [pmd({}, plain)],
  });
  assert.equal(
    server.extensions,
    "permessage-deflate; server_no_context_takeover",
  );
});

test("deflate: parameters are validated by kind", () => {
  assert.deepEqual(
    parseDeflateParams([["client_max_window_bits", true]], "offer"),
    {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      clientMaxWindowBits: true,
    },
  );
  assert.match(
    parseDeflateParams(
      [["client_max_window_bits", true]],
      "response",
    ) as string,
    /needs a value/,
  );
  for (const v of ["8", "9", "10", "15"]) {
    assert.equal(
      typeof parseDeflateParams([["server_max_window_bits", v]], "response"),
      "object",
    );
  }
  for (const v of ["", "7", "16", "08", "1e1", "10.0", " 9"]) {
    assert.equal(
      typeof parseDeflateParams([["server_max_window_bits", v]], "offer"),
      "string",
      v,
    );
  }
});

test("deflate: invalid options throw RangeError", () => {
  for (
    const bad of [
      { serverMaxWindowBits: 16 },
      { serverMaxWindowBits: 7 },
      { clientMaxWindowBits: 9.5 },
      { level: 10 },
      { level: -2 },
      { memLevel: 0 },
      { threshold: -1 },
      { contextBytes: -1 },
    ]
  ) {
    assert.throws(() => deflate(bad), RangeError, JSON.stringify(bad));
  }
});

// ---- framing -------------------------------------------------------------

test("deflate: RSV1 on the first frame only, the sync-flush tail stripped, control frames never compressed", () => {
  const { client, server } = handshake({
    client: [pmd({ threshold: 0 })],
    server: [pmd()],
  });
  const message = text(5000, 1);
  client.send(message, { fragmentSize: 300 });
  client.ping("p".repeat(100));
  const out = client.takeOutput().map((c) => c.slice());
  const frames = parseFrames(out);
  const data = frames.filter((f) => f.opcode < 8);
  assert.ok(data.length > 1, "fragmented");
  assert.equal(data[0].rsv, 4);
  assert.equal(data[0].opcode, 1);
  assert.ok(data.slice(1).every((f) => f.rsv === 0 && f.opcode === 0));
  const payload = concat(...data.map((f) => f.payload));
  assert.ok(payload.length < 5000 / 2, "compressed");
  const tail = [...payload.subarray(-4)];
  assert.notDeepEqual(tail, [0, 0, 0xff, 0xff], "tail stripped");
  const ping = frames.find((f) => f.opcode === 9)!;
  assert.equal(ping.rsv, 0, "control frame not compressed");
  const events: ConnectionEvent[] = [];
  for (const chunk of out) events.push(...server.receive(chunk));
  assert.deepEqual(messages(events), [message]);
  assert.ok(events.some((e) => e.type === "ping"));
});

test("deflate: messages under the threshold, and ones that would not shrink, go uncompressed", () => {
  const { client, server } = handshake({ client: [pmd()], server: [pmd()] });
  const small = text(1023, 2);
  const big = text(1024, 3);
  const random = noise(4096, 4);
  client.send(small);
  client.send(big);
  client.send(random);
  const out = client.takeOutput().map((c) => c.slice());
  assert.deepEqual(parseFrames(out).map((f) => f.rsv), [0, 4, 0]);
  const events: ConnectionEvent[] = [];
  for (const chunk of out) events.push(...server.receive(chunk));
  assert.deepEqual(messages(events), [small, big, random]);
});

test("deflate: RFC 7692 §7.2.3 examples decode, including context takeover, stored and BFINAL blocks", () => {
  const hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
  const client = new Connection({
    role: "client",
    activeExtensions: [
      pmd().accept({ name: "permessage-deflate", params: [] }),
    ],
  });
  const frames = [
    serverFrame(1, new Uint8Array(hello), { rsv: 4 }), // §7.2.3.1
    concat( // §7.2.3.1, fragmented
      serverFrame(1, new Uint8Array(hello.slice(0, 3)), { rsv: 4, fin: false }),
      serverFrame(0, new Uint8Array(hello.slice(3))),
    ),
    serverFrame(1, new Uint8Array([0xf2, 0x00, 0x11, 0x00, 0x00]), { rsv: 4 }), // §7.2.3.2
    serverFrame( // §7.2.3.3: a stored block
      1,
      new Uint8Array([
        0x00,
        0x05,
        0x00,
        0xfa,
        0xff,
        0x48,
        0x65,
        0x6c,
        0x6c,
        0x6f,
        0x00,
      ]),
      { rsv: 4 },
    ),
    serverFrame( // §7.2.3.4: BFINAL set
      1,
      new Uint8Array([0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]),
      { rsv: 4 },
    ),
    serverFrame( // §7.2.3.5: two blocks
      1,
      new Uint8Array([
        0xf2,
        0x48,
        0x05,
        0x00,
        0x00,
        0x00,
        0xff,
        0xff,
        0xca,
        0xc9,
        0xc9,
        0x07,
        0x00,
      ]),
      { rsv: 4 },
    ),
    serverFrame(1, new Uint8Array([0xf2, 0x00, 0x11, 0x00, 0x00]), { rsv: 4 }), // context after BFINAL
    serverFrame(2, new Uint8Array([0x00]), { rsv: 4 }), // an empty message
  ];
  const got = frames.flatMap((f) => messages(feed(client, f)));
  assert.deepEqual(got, [
    "Hello",
    "Hello",
    "Hello",
    "Hello",
    "Hello",
    "Hello",
    "Hello",
    new Uint8Array(0),
  ]);
  assert.equal(client.state, 1);
});

test("deflate: a message sent with its 00 00 ff ff tail still decodes", () => {
  const server = openServer();
  const full = deflateRawSync(enc.encode("tail kept"), SYNC);
  assert.deepEqual(
    messages(feed(server, clientFrame(1, full, { rsv: 4 }))),
    ["tail kept"],
  );
});

test("deflate: RSV1 on a continuation frame fails with 1002", () => {
  const server = openServer();
  const data = compressed("fragmented");
  const events = feed(
    server,
    concat(
      clientFrame(1, data.subarray(0, 4), { rsv: 4, fin: false }),
      clientFrame(0, data.subarray(4), { rsv: 4 }),
    ),
  );
  assert.equal(closeOf(events).code, 1002);
});

test("deflate: a compressed message when the extension was not negotiated fails with 1002", () => {
  const { server } = handshake({ offer: "permessage-deflate" }); // no negotiator
  assert.equal(server.extensions, "");
  const events = feed(server, clientFrame(1, compressed("hi"), { rsv: 4 }));
  assert.equal(closeOf(events).code, 1002);
});

test("deflate: RSV1 on a control frame, or RSV2/RSV3 on data, fails with 1002 even when negotiated", () => {
  assert.equal(
    closeOf(feed(openServer(), clientFrame(9, "x", { rsv: 4 }))).code,
    1002,
  );
  assert.equal(
    closeOf(feed(openServer(), clientFrame(1, "x", { rsv: 2 }))).code,
    1002,
  );
  assert.equal(
    closeOf(feed(openServer(), clientFrame(1, "x", { rsv: 1 }))).code,
    1002,
  );
});

test("deflate: corrupt compressed data fails with 1007; decompressed text is UTF-8 checked (1007)", () => {
  const bad = feed(
    openServer(),
    clientFrame(1, new Uint8Array([0xff, 0xff, 0xff]), { rsv: 4 }),
  );
  assert.equal(closeOf(bad).code, 1007);
  const invalid = feed(
    openServer(),
    clientFrame(1, compressed(new Uint8Array([0x61, 0xc3, 0x28])), { rsv: 4 }),
  );
  assert.equal(closeOf(invalid).code, 1007);
  const euro = feed(
    openServer(),
    clientFrame(1, compressed("€ ok"), { rsv: 4 }),
  );
  assert.deepEqual(messages(euro), ["€ ok"]);
});

test("deflate: the codec stops at maxOutput (exact bound), with and without a dictionary", () => {
  const data = new Uint8Array(100_000).fill(7);
  const packed = deflateRawSync(data, SYNC);
  for (const dictionary of [undefined, new Uint8Array(5000).fill(7)]) {
    const exact = zlibCodec.inflate(packed, {
      windowBits: 15,
      dictionary,
      maxOutput: 100_000,
    });
    assert.equal(exact?.length, 100_000);
    assert.equal(
      zlibCodec.inflate(packed, {
        windowBits: 15,
        dictionary,
        maxOutput: 99_999,
      }),
      undefined,
    );
    assert.equal(
      zlibCodec.inflate(packed, { windowBits: 15, dictionary, maxOutput: 0 }),
      undefined,
    );
  }
});

test("deflate: a small message that would inflate past maxMessageSize fails with 1009", () => {
  const bomb = compressed(new Uint8Array(1024 * 1024)); // ~1 KiB → 1 MiB
  assert.ok(bomb.length < 2048, `${bomb.length} bytes`);
  const server = openServer(serverExtension(), 64 * 1024);
  const events = feed(server, clientFrame(2, bomb, { rsv: 4 }));
  assert.equal(closeOf(events).code, 1009);
  // exactly at the limit is fine
  const ok = openServer(serverExtension(), 1024 * 1024);
  const got = messages(feed(ok, clientFrame(2, bomb, { rsv: 4 })));
  assert.equal((got[0] as Uint8Array).length, 1024 * 1024);
});

test("deflate: a 1 GiB decompression bomb fails with 1009 without allocating the output", () => {
  // 16 MiB of zeros deflates to ~16 KB ending on a sync flush; 64 copies in a
  // row are one valid stream of 1 GiB, sent as a ~1 MB message.
  const piece = deflateRawSync(new Uint8Array(16 * 1024 * 1024), SYNC);
  const bomb = concat(...Array.from({ length: 64 }, () => piece));
  const wire = clientFrame(2, bomb.subarray(0, bomb.length - 4), { rsv: 4 });
  let largest = 0;
  const spy: DeflateCodec = {
    deflate: zlibCodec.deflate,
    inflate(data, options) {
      const out = zlibCodec.inflate(data, options);
      largest = Math.max(largest, out?.length ?? 0);
      return out;
    },
  };
  const server = openServer(serverExtension([], {}, spy)); // default 64 MiB limit
  const before = process.memoryUsage().rss;
  const events = feed(server, wire);
  const grown = process.memoryUsage().rss - before;
  assert.equal(closeOf(events).code, 1009);
  assert.equal(largest, 0, "no output was returned");
  assert.ok(grown < 512 * 1024 * 1024, `RSS grew ${grown} bytes`);
});

test("deflate: an 8-bit window for our compressor means uncompressed messages; the other direction still compresses", () => {
  const { client, server } = handshake({
    client: [pmd({ threshold: 0, serverMaxWindowBits: 8 }, ctx)],
    server: [pmd({ threshold: 0 }, ctx)],
  });
  assert.equal(
    server.extensions,
    "permessage-deflate; server_max_window_bits=8",
  );
  const message = text(4000, 5);
  server.send(message);
  const down = server.takeOutput().map((c) => c.slice());
  assert.equal(parseFrames(down)[0].rsv, 0, "server sends uncompressed");
  assert.deepEqual(down.flatMap((c) => messages(client.receive(c))), [message]);
  client.send(message);
  const up = client.takeOutput().map((c) => c.slice());
  assert.equal(parseFrames(up)[0].rsv, 4, "client compresses");
  assert.deepEqual(up.flatMap((c) => messages(server.receive(c))), [message]);

  const limited = handshake({
    client: [pmd({ threshold: 0 }, ctx)],
    server: [pmd({ threshold: 0, clientMaxWindowBits: 8 }, ctx)],
  });
  assert.equal(
    limited.client.extensions,
    "permessage-deflate; client_max_window_bits=8",
  );
  limited.client.send(message);
  const frames = parseFrames(limited.client.takeOutput());
  assert.equal(frames[0].rsv, 0, "client sends uncompressed");
});

test("deflate: context takeover makes a repeated message much smaller (where the codec can prime)", () => {
  const { client, server } = handshake({ client: [pmd()], server: [pmd()] });
  const message = text(3000, 6);
  const sizes: number[] = [];
  for (let i = 0; i < 3; i++) {
    client.send(message);
    const out = client.takeOutput().map((c) => c.slice());
    sizes.push(parseFrames(out)[0].payload.length);
    assert.deepEqual(out.flatMap((c) => messages(server.receive(c))), [
      message,
    ]);
  }
  if (zlibCodec.contextTakeover) {
    assert.ok(sizes[1] < sizes[0] / 10, `${sizes}`);
  } else {
    assert.equal(sizes[1], sizes[0], "each message compressed alone");
  }
});

test("deflate: windows are kept only as traffic needs them and released on close", () => {
  const c = capture(pmd({ threshold: 0 }, ctx));
  const s = capture(pmd({ threshold: 0 }, ctx));
  const { client, server } = handshake({
    client: [c.negotiator],
    server: [s.negotiator],
  });
  assert.equal(retained(s.instances[0]), 0, "nothing before any message");
  client.send(text(2048, 7));
  pump(client, server);
  server.send(text(2048, 8));
  pump(server, client);
  // 2 KiB received and 2 KiB sent (with a codec that can prime its
  // compressor; on Deno the real one cannot, and keeps no send window)
  const sent = 2048;
  assert.equal(retained(s.instances[0]), 2048 + sent);
  assert.equal(retained(c.instances[0]), 2048 + sent);
  for (let i = 0; i < 40; i++) {
    client.send(text(4096, 9 + i));
    pump(client, server);
  }
  assert.equal(retained(s.instances[0]), 32768 + sent, "capped at the window");
  client.close(1000);
  pump(client, server);
  pump(server, client);
  assert.equal(retained(s.instances[0]), 0, "released");
  assert.equal(retained(c.instances[0]), 0, "released");

  const c2 = capture(pmd({
    threshold: 0,
    clientNoContextTakeover: true,
    serverNoContextTakeover: true,
  }, ctx));
  const s2 = capture(pmd({ threshold: 0 }, ctx));
  const none = handshake({ client: [c2.negotiator], server: [s2.negotiator] });
  none.client.send(text(2048, 7));
  pump(none.client, none.server);
  none.server.send(text(2048, 7));
  pump(none.server, none.client);
  assert.equal(retained(c2.instances[0]) + retained(s2.instances[0]), 0);
});

test("deflate: a smaller window bounds what is kept", () => {
  const s = capture(pmd({ threshold: 0 }, ctx));
  const { client, server } = handshake({
    client: [pmd({ threshold: 0, clientMaxWindowBits: 10 }, ctx)],
    server: [s.negotiator],
  });
  for (let i = 0; i < 10; i++) {
    client.send(text(3000, i));
    assert.deepEqual(messages(pump(client, server)), [text(3000, i)]);
  }
  assert.equal(retained(s.instances[0]), 1024);
});

/** Bytes a permessage-deflate instance holds for context takeover. */
function retained(ext: Extension): number {
  return (ext as unknown as { retainedBytes: number }).retainedBytes;
}

test("deflate: a codec whose output lacks the sync-flush tail is an error, not a corrupt frame", () => {
  const broken: DeflateCodec = {
    deflate: (data) => deflateRawSync(data), // Z_FINISH: no 00 00 ff ff
    inflate: zlibCodec.inflate,
  };
  const { client } = handshake({
    client: [pmd({ threshold: 0 }, broken)],
    server: [pmd()],
  });
  assert.throws(() => client.send(text(3000, 1)), /sync flush/);
});

test("deflate: a peer compressing with an 8-bit window is decoded, context included", () => {
  // zlib's 9-bit raw deflate never reaches back more than 250 bytes, so its
  // output is what a peer with a 256-byte window may send.
  const client = new Connection({
    role: "client",
    activeExtensions: [
      pmd().accept({
        name: "permessage-deflate",
        params: [["server_max_window_bits", "8"]],
      }),
    ],
  });
  const first = enc.encode(text(600, 11));
  const second = enc.encode(text(600, 11).slice(0, 400) + text(200, 12));
  const frames = [
    deflateRawSync(first, { ...SYNC, windowBits: 9 }),
    deflateRawSync(second, {
      ...SYNC,
      windowBits: 9,
      dictionary: first.subarray(-256),
    }),
  ].map((c) => serverFrame(1, c.subarray(0, c.length - 4), { rsv: 4 }));
  const got = frames.flatMap((f) => messages(feed(client, f)));
  assert.deepEqual(got, [
    new TextDecoder().decode(first),
    new TextDecoder().decode(second),
  ]);
});
