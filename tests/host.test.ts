/**
 * Host validation and the URL of an upgrade request (RFC 9112 §3.2, §3.2.2;
 * RFC 3986 §3.2.2–3.2.3), in the core: no network.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { LocalError } from "../core/errors.ts";
import { HeaderMap, type HttpRequestHead, parseHost } from "../core/http.ts";
import {
  HandshakeError,
  requestTargetPath,
  requestUrl,
  type UpgradeRequest,
  validateUpgradeRequest,
} from "../core/handshake.ts";
import { Connection } from "../core/connection.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const latin1 = (b: Uint8Array): string =>
  Array.from(b, (c) => String.fromCharCode(c)).join("");
const bytes = (s: string): Uint8Array =>
  Uint8Array.from(s, (c) => c.charCodeAt(0));

/** An upgrade request head with the given Host lines (none when empty). */
function head(hosts: string[], target = "/chat"): HttpRequestHead {
  const fields: [string, string][] = hosts.map((h) => ["Host", h]);
  fields.push(
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", KEY],
    ["Sec-WebSocket-Version", "13"],
  );
  return {
    method: "GET",
    target,
    version: "1.1",
    headers: new HeaderMap(fields),
  };
}

function validate(hosts: string[], target?: string): UpgradeRequest {
  return validateUpgradeRequest(head(hosts, target));
}

function rejects400(hosts: string[], message: string, target?: string): void {
  assert.throws(() => validate(hosts, target), (error) => {
    assert.ok(error instanceof HandshakeError);
    assert.equal(error.status, 400);
    assert.equal(error.message, message);
    return true;
  }, `${JSON.stringify(hosts)} ${target ?? ""}`);
}

const VALID_HOSTS: [string, string, string][] = [
  // value, hostname, port
  ["example.com", "example.com", ""],
  ["example.com:8080", "example.com", "8080"],
  ["[::1]:80", "[::1]", "80"],
  ["[::1]", "[::1]", ""],
  ["127.0.0.1", "127.0.0.1", ""],
  ["127.0.0.1:9001", "127.0.0.1", "9001"],
  ["[2001:db8::7]:443", "[2001:db8::7]", "443"],
  ["[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]", ""],
  ["[1:2:3:4:5:6:7:8]", "[1:2:3:4:5:6:7:8]", ""],
  ["Example.COM:65535", "Example.COM", "65535"],
  ["a-b_c~d.example", "a-b_c~d.example", ""],
  ["ex%61mple.com", "ex%61mple.com", ""],
  ["localhost:", "localhost", ""],
];

const INVALID_HOSTS: string[] = [
  "evil.example/../admin?",
  "evil.example/",
  "evil.example?x",
  "evil.example#x",
  "a b",
  "host:port:x",
  "host:99999",
  "host:65536",
  "host:-1",
  "host:8o",
  "user@host",
  "user:pw@host",
  ":80",
  "[::1",
  "[::1]x",
  "[::1]:8x",
  "::1",
  "[1:2:3:4:5:6:7:8:9]",
  "[1::2::3]",
  "[1.2.3.4::]",
  "[::1%25eth0]",
  "[v1.future]",
  "[12345::]",
  "ex%6",
  "ex%zzample",
  "back\\slash",
  "caf\u00e9.example",
  "tab\there",
];

describe("parseHost", () => {
  test('accepts uri-host [":" port] and returns the parts as sent', () => {
    for (const [value, hostname, port] of VALID_HOSTS) {
      assert.deepEqual(parseHost(value), { hostname, port }, value);
    }
  });

  test("rejects anything else", () => {
    for (const value of INVALID_HOSTS) {
      assert.equal(parseHost(value), undefined, value);
    }
    assert.equal(parseHost(""), undefined);
  });
});

describe("validateUpgradeRequest: Host", () => {
  test("valid hosts pass and become request.host", () => {
    for (const [value] of VALID_HOSTS) {
      assert.equal(validate([value]).host, value);
    }
  });

  test("an invalid Host is 400", () => {
    for (const value of INVALID_HOSTS) {
      rejects400([value], "invalid Host header");
    }
  });

  test("a host the URL parser refuses is 400", () => {
    // Valid RFC 3986 reg-names that cannot be a WHATWG URL host.
    rejects400(["1.2.3.999"], "invalid Host header");
    rejects400(["a%00b"], "invalid Host header");
    rejects400(["a%2Fb"], "invalid Host header");
  });

  test("an empty, a missing and a repeated Host are 400", () => {
    rejects400([""], "empty Host header");
    rejects400([], "missing Host header");
    rejects400(["a.example", "a.example"], "duplicate Host header");
    rejects400(["a.example", "b.example"], "duplicate Host header");
  });
});

describe("validateUpgradeRequest: absolute-form target", () => {
  test("the target's authority replaces Host; path and query come from it", () => {
    const request = validate(
      ["127.0.0.1"],
      "http://good.example/chat?room=1",
    );
    assert.equal(request.host, "good.example");
    assert.equal(request.path, "/chat");
    assert.equal(request.target, "http://good.example/chat?room=1");
    assert.equal(request.headers.get("host"), "127.0.0.1");
    assert.equal(
      requestUrl(request, false).href,
      "ws://good.example/chat?room=1",
    );
  });

  test("ws, wss, https schemes, ports, IPv6 and no path", () => {
    const url = (target: string) =>
      requestUrl(validate(["h"], target), false).href;
    assert.equal(url("ws://a.example:8080/x"), "ws://a.example:8080/x");
    assert.equal(url("WSS://a.example/x"), "ws://a.example/x");
    assert.equal(url("https://[::1]:9/x?q"), "ws://[::1]:9/x?q");
    assert.equal(url("ws://a.example"), "ws://a.example/");
    assert.equal(url("ws://a.example?q=1"), "ws://a.example/?q=1");
    assert.equal(validate(["h"], "ws://a.example?q=1").path, "/");
  });

  test("a bad authority or scheme in the target is 400, even with a good Host", () => {
    for (
      const target of [
        "http://user@good.example/chat",
        "http:///chat",
        "http://a b/chat",
        "http://good.example:99999/chat",
        "http://good.example#x/chat",
        "http://1.2.3.999/chat",
        "ftp://good.example/chat",
        "javascript://good.example/chat",
      ]
    ) {
      rejects400(["good.example"], "invalid request target", target);
    }
  });

  test("Host is still required once and valid", () => {
    const target = "http://good.example/chat";
    rejects400([], "missing Host header", target);
    rejects400(["a", "b"], "duplicate Host header", target);
    rejects400(["evil.example/../admin?"], "invalid Host header", target);
  });
});

describe("requestTargetPath", () => {
  test("the path the handshake checks, for both target forms", () => {
    assert.equal(requestTargetPath("/chat?x=1"), "/chat");
    assert.equal(requestTargetPath("http://good.example/chat?x=1"), "/chat");
    assert.equal(requestTargetPath("ws://good.example:80"), "/");
    assert.equal(requestTargetPath("ws://good.example?x"), "/");
    assert.equal(requestTargetPath("*"), undefined);
    assert.equal(requestTargetPath("good.example:80"), undefined);
    assert.equal(requestTargetPath("http://user@good.example/chat"), undefined);
    assert.equal(requestTargetPath("ftp://good.example/chat"), undefined);
  });
});

describe("requestUrl", () => {
  test("builds the URL from validated parts", () => {
    assert.equal(
      requestUrl(validate(["example.com:8080"], "/chat?x=1"), false).href,
      "ws://example.com:8080/chat?x=1",
    );
    assert.equal(
      requestUrl(validate(["[::1]:443"], "/chat"), true).href,
      "wss://[::1]/chat",
    );
    assert.equal(
      requestUrl(validate(["127.0.0.1"], "/"), false).href,
      "ws://127.0.0.1/",
    );
  });

  test("a path that looks like an authority stays a path", () => {
    const url = requestUrl(
      validate(["good.example"], "//evil.example/x"),
      false,
    );
    assert.equal(url.host, "good.example");
    assert.equal(url.pathname, "//evil.example/x");
  });

  test("throws for a request that was not validated", () => {
    const request = validate(["good.example"]);
    assert.throws(
      () => requestUrl({ ...request, host: "evil.example/../admin?" }, false),
      isArgumentError,
    );
    assert.throws(
      () => requestUrl({ ...request, target: "*" }, false),
      isArgumentError,
    );
  });
});

describe("Connection.server: Host", () => {
  const request = (host: string) =>
    bytes(
      `GET /chat HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\n` +
        "Sec-WebSocket-Version: 13\r\n\r\n",
    );

  test("an invalid Host is answered 400 and no request event", () => {
    const conn = Connection.server();
    const events = conn.receive(request("evil.example/../admin?"));
    assert.equal(events.some((e) => e.type === "request"), false);
    const out = latin1(
      Uint8Array.from(conn.takeOutput().flatMap((c) => [...c])),
    );
    assert.match(out, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(out, /invalid Host header$/);
    assert.equal(conn.wantsTransportClose, true);
  });

  test("a valid Host gives a request event with that host", () => {
    const conn = Connection.server();
    const events = conn.receive(request("[::1]:8080"));
    const event = events.find((e) => e.type === "request");
    assert.ok(event !== undefined && event.type === "request");
    assert.equal(event.request.host, "[::1]:8080");
    assert.equal(requestUrl(event.request, false).href, "ws://[::1]:8080/chat");
  });
});

/** A `LocalError` of kind `"argument"` (a bad value from the caller). */
function isArgumentError(error: unknown): boolean {
  return error instanceof LocalError && error.kind === "argument";
}
