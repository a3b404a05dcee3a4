/**
 * permessage-deflate round trips in memory (client core ↔ server core with
 * the zlib codec): every parameter combination under random chunking
 * (fast-check), and Autobahn 12.x/13.x-style runs of many messages of many
 * sizes, with and without context takeover, window bits 8–15, both ways.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Connection, ConnectionEvent } from "../core/connection.ts";
import type { PerMessageDeflateOptions } from "../core/permessage_deflate.ts";
import { zlibCodec } from "../adapters/deflate.ts";
import { concat } from "./helpers.ts";
import {
  codecWith,
  handshake,
  noise,
  parseFrames,
  pmd,
  text,
} from "./deflate_helpers.ts";

type Message = string | Uint8Array;

/** Sends `message` from `from` and delivers its bytes to `to` cut at `cuts`. */
function deliver(
  from: Connection,
  to: Connection,
  message: Message,
  cuts: readonly number[],
  fragmentSize?: number,
): { events: ConnectionEvent[]; rsv: number } {
  from.send(message, fragmentSize === undefined ? undefined : { fragmentSize });
  const bytes = concat(...from.takeOutput());
  const rsv = parseFrames([bytes])[0].rsv;
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))]
    .sort((a, b) => a - b);
  const events: ConnectionEvent[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    if (point > start) {
      events.push(...to.receive(bytes.slice(start, point)));
      start = point;
    }
  }
  return { events, rsv };
}

function received(events: readonly ConnectionEvent[]): Message[] {
  const bad = events.find((e) => e.type === "error" || e.type === "close");
  if (bad !== undefined) {
    throw new Error(`connection failed: ${JSON.stringify(bad)}`);
  }
  return events.flatMap((e) => (e.type === "message" ? [e.data] : []));
}

const bits = fc.option(fc.integer({ min: 8, max: 15 }), { nil: undefined });
const options: fc.Arbitrary<PerMessageDeflateOptions> = fc.record({
  serverNoContextTakeover: fc.boolean(),
  clientNoContextTakeover: fc.boolean(),
  serverMaxWindowBits: bits,
  clientMaxWindowBits: bits,
  threshold: fc.constantFrom(0, 16, 1024),
  level: fc.constantFrom(1, 6, 9),
  contextBytes: fc.constantFrom(undefined, 0, 1000, 32768),
});

const message: fc.Arbitrary<Message> = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.nat()).map(([n, s]) =>
    text(n, s)
  ),
  fc.tuple(fc.integer({ min: 0, max: 70000 }), fc.nat()).map(([n, s]) =>
    text(n, s)
  ),
  fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.nat()).map(([n, s]) =>
    noise(n, s)
  ),
  fc.string({ unit: "grapheme", maxLength: 300 }),
  fc.uint8Array({ maxLength: 2000 }),
);

test("deflate: round trips with every parameter combination under random chunking (fast-check)", () => {
  fc.assert(
    fc.property(
      options,
      options,
      fc.boolean(),
      fc.array(
        fc.record({
          message,
          toServer: fc.boolean(),
          repeat: fc.integer({ min: 1, max: 3 }),
          cuts: fc.array(fc.nat(), { maxLength: 6 }),
          fragmentSize: fc.option(fc.integer({ min: 1, max: 5000 }), {
            nil: undefined,
          }),
        }),
        { minLength: 1, maxLength: 12 },
      ),
      (clientOptions, serverOptions, primed, steps) => {
        const codec = primed ? codecWith(true) : zlibCodec;
        const { client, server, events } = handshake({
          client: [pmd(clientOptions, codec)],
          server: [pmd(serverOptions, codec)],
        });
        if (events[0].type !== "open") return true; // the server declined: fine
        for (const step of steps) {
          for (let i = 0; i < step.repeat; i++) {
            const [from, to] = step.toServer
              ? [client, server]
              : [server, client];
            const { events } = deliver(
              from,
              to,
              step.message,
              step.cuts,
              step.fragmentSize,
            );
            assert.deepEqual(received(events), [step.message]);
          }
        }
        return true;
      },
    ),
    { numRuns: 150 },
  );
});

/** Autobahn 12.x/13.x-style configurations: client options, server options. */
const configs: [string, PerMessageDeflateOptions, PerMessageDeflateOptions][] =
  [
    ["context takeover both ways (12.x)", {}, {}],
    ["no context takeover", {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
    }, {}],
    ["server answers no context takeover", {}, {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
    }],
    ["client window 8 (13.3)", { clientMaxWindowBits: 8 }, {}],
    ["client window 9", { clientMaxWindowBits: 9 }, {}],
    ["server window 9", { serverMaxWindowBits: 9 }, {}],
    ["windows 10/11", { serverMaxWindowBits: 10 }, { clientMaxWindowBits: 11 }],
    ["windows 12/13", { serverMaxWindowBits: 12, clientMaxWindowBits: 13 }, {}],
    ["window 14, no client takeover", {
      clientMaxWindowBits: 14,
      clientNoContextTakeover: true,
    }, {}],
    [
      "windows 15 (13.4)",
      { serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
      {},
    ],
    ["client window 8, no context takeover (13.5)", {
      clientMaxWindowBits: 8,
      clientNoContextTakeover: true,
    }, {}],
    ["server limits client to 9", {}, { clientMaxWindowBits: 9 }],
  ];

const SIZES = [16, 64, 256, 1024, 4096, 16384, 65536, 131072];

for (const [name, clientOptions, serverOptions] of configs) {
  test(`deflate: Autobahn-style many messages of many sizes, ${name}`, () => {
    for (const codec of [zlibCodec, codecWith(true)]) {
      const { client, server, events } = handshake({
        client: [pmd({ threshold: 0, ...clientOptions }, codec)],
        server: [pmd({ threshold: 0, ...serverOptions }, codec)],
      });
      assert.equal(events[0].type, "open");
      assert.match(client.extensions, /^permessage-deflate/);
      let compressed = 0;
      let seed = 0;
      for (const size of SIZES) {
        for (let i = 0; i < 6; i++) {
          const payload = i % 3 === 2
            ? noise(size, ++seed)
            : text(size, ++seed);
          for (const [from, to] of [[client, server], [server, client]]) {
            const { events, rsv } = deliver(from, to, payload, []);
            assert.deepEqual(received(events), [payload]);
            if (rsv !== 0) compressed++;
          }
        }
      }
      assert.ok(
        compressed > SIZES.length * 2,
        `${compressed} compressed messages`,
      );
      client.close(1000);
      for (const chunk of client.takeOutput()) server.receive(chunk);
      for (const chunk of server.takeOutput()) client.receive(chunk);
      assert.equal(client.state, 3);
    }
  });
}
