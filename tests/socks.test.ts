/** The sans-IO SOCKS5 client handshake (RFC 1928, RFC 1929), byte by byte. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Socks5Client, type Socks5Step } from "../core/socks.ts";
import { inPrefix, parseIP, parseIPv4, parseIPv6 } from "../core/ip.ts";

const bytes = (...values: number[]) => Uint8Array.from(values);
const ascii = (text: string) => [...new TextEncoder().encode(text)];

/** Feeds `reply` one byte at a time; every step but the last is pending. */
function feedByBytes(client: Socks5Client, reply: Uint8Array): Socks5Step {
  let step: Socks5Step = { state: "pending" };
  for (let i = 0; i < reply.length; i++) {
    step = client.receive(reply.subarray(i, i + 1));
    if (i < reply.length - 1 && step.state !== "pending") return step;
  }
  return step;
}

const SUCCESS_V4 = bytes(5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90); // bound 10.0.0.1:8080

describe("SOCKS5 client", () => {
  test("no auth: greeting, CONNECT by name (socks5h), success; the rest goes on", () => {
    const client = new Socks5Client({ host: "example.com", port: 443 });
    assert.deepEqual(client.takeOutput(), [bytes(5, 1, 0)]);
    assert.deepEqual(client.takeOutput(), [], "output is taken once");
    assert.deepEqual(client.receive(bytes(5, 0)), { state: "pending" });
    assert.deepEqual(client.takeOutput(), [
      bytes(5, 1, 0, 3, 11, ...ascii("example.com"), 0x01, 0xbb),
    ]);
    const step = client.receive(
      Uint8Array.from([...SUCCESS_V4, ...ascii("HTTP/1.1 101")]),
    );
    assert.equal(step.state, "open");
    if (step.state !== "open") return;
    assert.deepEqual(step.bound, { host: "10.0.0.1", port: 8080 });
    assert.deepEqual([...step.rest], ascii("HTTP/1.1 101"));
  });

  test("IPv4 and IPv6 targets use address types 1 and 4 (brackets allowed)", () => {
    const v4 = new Socks5Client({ host: "192.0.2.7", port: 80 });
    v4.takeOutput();
    v4.receive(bytes(5, 0));
    assert.deepEqual(v4.takeOutput(), [bytes(5, 1, 0, 1, 192, 0, 2, 7, 0, 80)]);
    const v6 = new Socks5Client({ host: "[2001:db8::1]", port: 65535 });
    v6.takeOutput();
    v6.receive(bytes(5, 0));
    assert.deepEqual(v6.takeOutput(), [
      bytes(
        5,
        1,
        0,
        4,
        0x20,
        1,
        0x0d,
        0xb8,
        ...new Array(11).fill(0),
        1,
        255,
        255,
      ),
    ]);
  });

  test("username/password (RFC 1929): offered with no-auth, sent when chosen", () => {
    const client = new Socks5Client({
      host: "h",
      port: 1,
      username: "alice",
      password: "sécret",
    });
    assert.deepEqual(client.takeOutput(), [bytes(5, 2, 0, 2)]);
    assert.deepEqual(feedByBytes(client, bytes(5, 2)), { state: "pending" });
    const pass = ascii("sécret");
    assert.deepEqual(client.takeOutput(), [
      bytes(1, 5, ...ascii("alice"), pass.length, ...pass),
    ]);
    assert.deepEqual(feedByBytes(client, bytes(1, 0)), { state: "pending" });
    assert.deepEqual(client.takeOutput(), [
      bytes(5, 1, 0, 3, 1, ...ascii("h"), 0, 1),
    ]);
    const step = feedByBytes(
      client,
      bytes(5, 0, 0, 3, 4, ...ascii("host"), 0, 9),
    );
    assert.equal(step.state, "open");
    if (step.state === "open") {
      assert.deepEqual(step.bound, { host: "host", port: 9 });
      assert.equal(step.rest.length, 0);
    }
  });

  test("credentials offered but the proxy picks no-auth: straight to CONNECT", () => {
    const client = new Socks5Client({
      host: "h",
      port: 1,
      username: "u",
      password: "p",
    });
    client.takeOutput();
    client.receive(bytes(5, 0));
    assert.deepEqual(client.takeOutput(), [
      bytes(5, 1, 0, 3, 1, ...ascii("h"), 0, 1),
    ]);
  });

  test("IPv6 bound address in the reply, split across reads", () => {
    const client = new Socks5Client({ host: "h", port: 1 });
    client.takeOutput();
    client.receive(bytes(5, 0));
    const reply = bytes(5, 0, 0, 4, ...new Array(15).fill(0), 1, 0, 80, 0xaa);
    // Byte by byte up to the port, then the port and a byte of the target's.
    assert.equal(feedByBytes(client, reply.subarray(0, -3)).state, "pending");
    const step = client.receive(reply.subarray(-3));
    assert.equal(step.state, "open");
    if (step.state === "open") {
      assert.deepEqual(step.bound, { host: "0:0:0:0:0:0:0:1", port: 80 });
      assert.deepEqual([...step.rest], [0xaa]);
    }
  });

  const failures: [string, number[], number[], RegExp, number?][] = [
    ["not SOCKS5", [4, 0], [], /not a SOCKS5 server/],
    ["auth required", [5, 0xff], [], /requires authentication/],
    ["unoffered method", [5, 2], [], /did not offer/],
    ["GSSAPI chosen", [5, 1], [], /method 1/],
    [
      "refused: connection refused",
      [5, 0],
      [5, 5, 0, 1, 0, 0, 0, 0, 0, 0],
      /connection refused \(5\)/,
      5,
    ],
    [
      "refused: not allowed",
      [5, 0],
      [5, 2, 0, 1, 0, 0, 0, 0, 0, 0],
      /not allowed by ruleset/,
      2,
    ],
    [
      "refused: unknown code",
      [5, 0],
      [5, 99, 0, 1, 0],
      /unknown reply \(99\)/,
      99,
    ],
    ["bad reply version", [5, 0], [4, 0, 0, 1, 0], /bad SOCKS5 reply/],
    ["bad address type", [5, 0], [5, 0, 0, 9, 0], /address type 9/],
  ];
  for (const [name, method, reply, message, code] of failures) {
    test(`fails cleanly: ${name}`, () => {
      const client = new Socks5Client({ host: "example.com", port: 80 });
      client.takeOutput();
      let step = client.receive(Uint8Array.from(method));
      if (reply.length > 0) {
        assert.equal(step.state, "pending");
        client.takeOutput();
        step = client.receive(Uint8Array.from(reply));
      }
      assert.equal(step.state, "failed");
      if (step.state !== "failed") return;
      assert.match(step.message, message);
      assert.equal(step.reply, code);
      assert.deepEqual(client.takeOutput(), [], "nothing more to send");
      assert.equal(client.receive(bytes(0)).state, "failed", "stays failed");
    });
  }

  test("a rejected password fails without the credentials in the message", () => {
    const client = new Socks5Client({
      host: "h",
      port: 1,
      username: "alice",
      password: "hunter2",
    });
    client.takeOutput();
    client.receive(bytes(5, 2));
    client.takeOutput();
    const step = client.receive(bytes(1, 1));
    assert.equal(step.state, "failed");
    if (step.state === "failed") {
      assert.match(step.message, /rejected the username or password/);
      assert.doesNotMatch(step.message, /alice|hunter2/);
    }
  });

  test("local misuse throws", () => {
    assert.throws(
      () => new Socks5Client({ host: "h", port: 65536 }),
      RangeError,
    );
    assert.throws(() => new Socks5Client({ host: "h", port: -1 }), RangeError);
    assert.throws(() => new Socks5Client({ host: "", port: 1 }), RangeError);
    assert.throws(
      () => new Socks5Client({ host: "a".repeat(256), port: 1 }),
      RangeError,
    );
    assert.throws(
      () => new Socks5Client({ host: "h", port: 1, username: "u" }),
      TypeError,
    );
    assert.throws(
      () =>
        new Socks5Client({ host: "h", port: 1, username: "", password: "p" }),
      RangeError,
    );
    assert.throws(
      () =>
        new Socks5Client({
          host: "h",
          port: 1,
          username: "u",
          password: "p".repeat(256),
        }),
      RangeError,
    );
  });
});

describe("IP literals", () => {
  test("IPv4: four decimal octets, no leading zeros", () => {
    assert.deepEqual(parseIPv4("192.168.0.1"), bytes(192, 168, 0, 1));
    assert.deepEqual(parseIPv4("0.0.0.0"), bytes(0, 0, 0, 0));
    for (
      const bad of [
        "256.0.0.1",
        "1.2.3",
        "1.2.3.4.5",
        "01.2.3.4",
        "1.2.3.x",
        "",
        "1..2.3",
      ]
    ) {
      assert.equal(parseIPv4(bad), undefined, bad);
    }
  });

  test("IPv6: groups, ::, a trailing dotted quad", () => {
    assert.deepEqual(parseIPv6("::1"), bytes(...new Array(15).fill(0), 1));
    assert.deepEqual(parseIPv6("::"), new Uint8Array(16));
    assert.deepEqual(
      parseIPv6("2001:DB8:0:0:0:0:0:1"),
      parseIPv6("2001:db8::1"),
    );
    assert.deepEqual(
      parseIPv6("::ffff:192.0.2.1"),
      bytes(...new Array(10).fill(0), 255, 255, 192, 0, 2, 1),
    );
    for (
      const bad of [
        "1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7:8:9",
        "1::2::3",
        ":1",
        "12345::",
        "g::",
        "1.2.3.4::",
        "1:2:3:4:5:6:7:8::",
      ]
    ) {
      assert.equal(parseIPv6(bad), undefined, bad);
    }
    assert.deepEqual(parseIP("[::1]"), parseIPv6("::1"));
    assert.equal(parseIP("example.com"), undefined);
  });

  test("prefix matching", () => {
    const net = parseIPv4("192.168.0.0")!;
    assert.ok(inPrefix(parseIPv4("192.168.255.1")!, net, 16));
    assert.ok(!inPrefix(parseIPv4("192.169.0.1")!, net, 16));
    assert.ok(inPrefix(parseIPv4("10.1.2.3")!, parseIPv4("10.0.0.0")!, 8));
    assert.ok(inPrefix(parseIPv4("10.0.0.129")!, parseIPv4("10.0.0.128")!, 25));
    assert.ok(
      !inPrefix(parseIPv4("10.0.0.127")!, parseIPv4("10.0.0.128")!, 25),
    );
    assert.ok(inPrefix(parseIPv4("1.2.3.4")!, parseIPv4("9.9.9.9")!, 0));
    assert.ok(!inPrefix(parseIPv4("1.2.3.4")!, parseIPv4("1.2.3.4")!, 33));
    assert.ok(!inPrefix(parseIPv4("1.2.3.4")!, parseIPv6("::1")!, 8));
  });
});
