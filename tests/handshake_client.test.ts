/**
 * The client side of the opening handshake (core, no network): the
 * `Authorization` field made from URL credentials, and the HTTP version a
 * 101 response must have.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  buildClientRequest,
  computeAccept,
  HandshakeError,
  validateServerResponse,
} from "../core/handshake.ts";
import { HeaderMap, HttpHeadParser } from "../core/http.ts";
import type { HttpRequestHead, HttpResponseHead } from "../core/http.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

function requestHead(bytes: Uint8Array): HttpRequestHead {
  const result = HttpHeadParser.request().push(bytes);
  assert.ok(result.done);
  return result.head;
}

function authorizations(url: string, headers?: [string, string][]): string[] {
  const request = buildClientRequest(url, { key: KEY, headers });
  return requestHead(request.bytes).headers.getAll("authorization");
}

function response(version: string): HttpResponseHead {
  return {
    version,
    status: 101,
    statusText: "Switching Protocols",
    headers: new HeaderMap([
      ["Upgrade", "websocket"],
      ["Connection", "Upgrade"],
      ["Sec-WebSocket-Accept", computeAccept(KEY)],
    ]),
  };
}

describe("client request: credentials in the URL", () => {
  test("user:pass@ becomes Authorization: Basic", () => {
    assert.deepEqual(authorizations("ws://user:pass@127.0.0.1:9/chat"), [
      "Basic dXNlcjpwYXNz",
    ]);
  });

  test("credentials are percent-decoded and sent as UTF-8", () => {
    // "ü" is percent-encoded by the URL parser as %C3%BC; "%3A" is a colon
    // inside the user name; "%zz" is not an escape and stays as it is.
    const expected = "Basic " +
      btoa(String.fromCharCode(
        ...new TextEncoder().encode("a:b\u00fc%zz:p@ss"),
      ));
    assert.deepEqual(
      authorizations("ws://a%3Ab\u00fc%zz:p%40ss@example.com/"),
      [expected],
    );
  });

  test("a user name alone gives an empty password", () => {
    assert.deepEqual(authorizations("ws://user@example.com/"), [
      "Basic " + btoa("user:"),
    ]);
  });

  test("an explicit Authorization header wins over the URL", () => {
    assert.deepEqual(
      authorizations("ws://user:pass@example.com/", [
        ["authorization", "Bearer token"],
      ]),
      ["Bearer token"],
    );
  });

  test("no credentials, no Authorization; Host and target carry none", () => {
    assert.deepEqual(authorizations("ws://example.com/"), []);
    const head = requestHead(
      buildClientRequest("ws://user:pass@example.com:8080/a?b", { key: KEY })
        .bytes,
    );
    assert.equal(head.target, "/a?b");
    assert.equal(head.headers.get("host"), "example.com:8080");
  });
});

describe("server response: HTTP version", () => {
  const request = buildClientRequest("ws://example.com/", { key: KEY });

  test("HTTP/1.1 101 is accepted", () => {
    assert.deepEqual(validateServerResponse(response("1.1"), request), {
      protocol: "",
      extensions: "",
    });
  });

  for (const version of ["1.0", "2.0", "0.9", "1.2"]) {
    test(`HTTP/${version} 101 is rejected`, () => {
      assert.throws(
        () => validateServerResponse(response(version), request),
        (error) =>
          error instanceof HandshakeError &&
          error.message.includes(`HTTP/${version}`),
      );
    });
  }

  test("a parsed HTTP/1.0 101 head is rejected", () => {
    const bytes = new TextEncoder().encode(
      "HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
        `Connection: Upgrade\r\nSec-WebSocket-Accept: ${
          computeAccept(KEY)
        }\r\n\r\n`,
    );
    const parsed = HttpHeadParser.response().push(bytes);
    assert.ok(parsed.done);
    assert.throws(
      () => validateServerResponse(parsed.head, request),
      HandshakeError,
    );
  });
});
