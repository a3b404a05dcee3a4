/** Proxy rules with no network: proxy URLs, the environment, NO_PROXY, CONNECT. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  buildConnectRequest,
  bypassesProxy,
  ConnectClient,
  parseProxy,
  proxyFromEnv,
} from "../core/proxy.ts";

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

describe("parseProxy", () => {
  test("schemes, default ports, credentials percent-decoded, IPv6 hosts", () => {
    assert.deepEqual(parseProxy("http://proxy:3128"), {
      protocol: "http:",
      host: "proxy",
      port: 3128,
    });
    assert.deepEqual(parseProxy("proxy.example"), {
      protocol: "http:",
      host: "proxy.example",
      port: 80,
    });
    assert.equal(parseProxy("https://p").port, 443);
    assert.equal(parseProxy("socks5://p").port, 1080);
    assert.equal(parseProxy("socks5h://p:9050").protocol, "socks5h:");
    assert.deepEqual(parseProxy("http://us%40er:p%3Ass@[::1]:8080/"), {
      protocol: "http:",
      host: "::1",
      port: 8080,
      username: "us@er",
      password: "p:ss",
    });
  });

  test("bad proxy URLs are SyntaxErrors that never show the credentials", () => {
    for (
      const bad of [
        "ftp://p",
        "socks4://p",
        "http://p/path",
        "http://p?q",
        "http://p#f",
        "http://user:hunter2@bad host",
        "http://user:%zz@p",
      ]
    ) {
      assert.throws(() => parseProxy(bad), (error: unknown) => {
        assert.ok(error instanceof SyntaxError, bad);
        assert.doesNotMatch((error as Error).message, /hunter2|%zz/);
        return true;
      });
    }
  });
});

describe("proxyFromEnv", () => {
  test("ws: uses http_proxy, wss: https_proxy, both fall back to all_proxy", () => {
    const env = envOf({
      http_proxy: "http://plain:1",
      https_proxy: "http://secure:2",
      all_proxy: "socks5://all:3",
    });
    assert.equal(proxyFromEnv(new URL("ws://a/"), env), "http://plain:1");
    assert.equal(proxyFromEnv(new URL("wss://a/"), env), "http://secure:2");
    const onlyAll = envOf({ ALL_PROXY: "socks5h://all:3" });
    assert.equal(proxyFromEnv(new URL("ws://a/"), onlyAll), "socks5h://all:3");
    assert.equal(proxyFromEnv(new URL("wss://a/"), onlyAll), "socks5h://all:3");
    assert.equal(proxyFromEnv(new URL("wss://a/"), envOf({})), undefined);
  });

  test("lower case wins over upper case; empty counts as unset", () => {
    const env = envOf({
      https_proxy: "http://lower:1",
      HTTPS_PROXY: "http://upper:2",
    });
    assert.equal(proxyFromEnv(new URL("wss://a/"), env), "http://lower:1");
    assert.equal(
      proxyFromEnv(
        new URL("wss://a/"),
        envOf({ HTTPS_PROXY: "http://upper:2" }),
      ),
      "http://upper:2",
    );
    assert.equal(
      proxyFromEnv(
        new URL("wss://a/"),
        envOf({ HTTPS_PROXY: " ", ALL_PROXY: "http://all:3" }),
      ),
      "http://all:3",
    );
    // An https proxy is not used for ws: targets.
    assert.equal(
      proxyFromEnv(new URL("ws://a/"), envOf({ HTTPS_PROXY: "http://s:1" })),
      undefined,
    );
  });

  test("NO_PROXY (either case) sends matching hosts direct", () => {
    const env = envOf({
      HTTPS_PROXY: "http://p:1",
      no_proxy: "internal.example, 10.0.0.0/8",
    });
    assert.equal(
      proxyFromEnv(new URL("wss://api.internal.example/"), env),
      undefined,
    );
    assert.equal(proxyFromEnv(new URL("wss://10.2.3.4:8443/"), env), undefined);
    assert.equal(
      proxyFromEnv(new URL("wss://example.com/"), env),
      "http://p:1",
    );
    const upper = envOf({ HTTPS_PROXY: "http://p:1", NO_PROXY: "[::1]" });
    assert.equal(proxyFromEnv(new URL("wss://[::1]:9/"), upper), undefined);
  });
});

describe("bypassesProxy (NO_PROXY as curl reads it)", () => {
  const cases: [string, string, boolean][] = [
    ["example.com", "*", true],
    ["example.com", " * ", true],
    ["example.com", "a.test,*", true],
    ["example.com", "", false],
    ["example.com", "example.com", true],
    ["www.example.com", "example.com", true],
    ["a.b.example.com", "example.com", true],
    ["notexample.com", "example.com", false],
    ["example.com.org", "example.com", false],
    ["example.com", ".example.com", true],
    ["www.example.com", ".example.com", true],
    ["EXAMPLE.com", "Example.COM", true],
    ["example.com.", "example.com", true],
    ["example.com", "example.com:8080", true],
    ["localhost", "localhost,127.0.0.1,::1", true],
    ["127.0.0.1", "localhost,127.0.0.1,::1", true],
    ["::1", "localhost,127.0.0.1,::1", true],
    ["[::1]", "::1", true],
    ["[::1]", "[::1]", true],
    ["127.0.0.2", "127.0.0.1", false],
    ["192.168.4.5", "192.168.0.0/16", true],
    ["192.169.4.5", "192.168.0.0/16", false],
    ["10.0.0.129", "10.0.0.128/25", true],
    ["10.0.0.127", "10.0.0.128/25", false],
    ["2001:db8::5", "2001:db8::/32", true],
    ["2001:db9::5", "2001:db8::/32", false],
    ["example.com", "192.168.0.0/16", false],
    ["192.168.1.1", "192.168.0.0/x", false],
    ["1.2.3.4", "1.2.3.4/33", false],
    ["1.2.3.4", "0.0.0.0/0", true],
    ["ex.com", ",,  ,ex.com", true],
    ["com", ".", false],
  ];
  for (const [host, list, expected] of cases) {
    test(`${host} with NO_PROXY="${list}": ${expected ? "direct" : "proxied"}`, () => {
      assert.equal(bypassesProxy(host, list), expected);
    });
  }
});

describe("buildConnectRequest", () => {
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

  test("authority form, Host, and Basic credentials as UTF-8", () => {
    assert.equal(
      text(buildConnectRequest("example.com", 443)),
      "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    );
    assert.equal(
      text(buildConnectRequest("::1", 80)),
      "CONNECT [::1]:80 HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
    );
    assert.equal(
      text(buildConnectRequest("[::1]", 80)),
      "CONNECT [::1]:80 HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
    );
    // RFC 7617's example: "Aladdin:open sesame".
    assert.match(
      text(
        buildConnectRequest("h", 1, {
          username: "Aladdin",
          password: "open sesame",
        }),
      ),
      /\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n/,
    );
  });

  test("rejects what a request line cannot carry", () => {
    assert.throws(() => buildConnectRequest("h", 0), RangeError);
    assert.throws(() => buildConnectRequest("h", 65536), RangeError);
    for (const bad of ["a b", "a\r\nX: y", "", "a/b", "a@b"]) {
      assert.throws(() => buildConnectRequest(bad, 1), SyntaxError, bad);
    }
  });
});

describe("ConnectClient", () => {
  const enc = (text: string) => new TextEncoder().encode(text);

  test("2xx opens the tunnel, split anywhere; bytes after the answer are the target's", () => {
    const answer = enc(
      "HTTP/1.1 200 Connection established\r\nVia: p\r\n\r\nHTTP/1.1 101",
    );
    for (let cut = 1; cut < answer.length; cut++) {
      const client = new ConnectClient("example.com", 443);
      assert.equal(client.takeOutput().length, 1);
      assert.deepEqual(client.takeOutput(), []);
      const first = client.receive(answer.subarray(0, cut));
      const step = first.state === "pending"
        ? client.receive(answer.subarray(cut))
        : first;
      assert.equal(step.state, "open", `cut at ${cut}`);
      if (step.state !== "open") continue;
      // What the tunnel carries: the rest, then (if the answer was whole
      // in the first piece) the bytes that were not fed.
      const later = first.state === "pending"
        ? ""
        : new TextDecoder().decode(answer.subarray(cut));
      assert.equal(new TextDecoder().decode(step.rest) + later, "HTTP/1.1 101");
    }
  });

  test("an interim 1xx answer is skipped", () => {
    const client = new ConnectClient("h", 1);
    const step = client.receive(
      enc("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 OK\r\n\r\n"),
    );
    assert.equal(step.state, "open");
  });

  test("407 says so with the proxy's challenge, never the credentials", () => {
    const client = new ConnectClient("h", 1, {
      username: "alice",
      password: "hunter2",
    });
    const request = new TextDecoder().decode(client.takeOutput()[0]);
    assert.match(request, /Proxy-Authorization: Basic /);
    const step = client.receive(
      enc(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\n\r\n',
      ),
    );
    assert.equal(step.state, "failed");
    if (step.state !== "failed") return;
    assert.equal(step.status, 407);
    assert.match(step.message, /407.*Basic realm="corp"/);
    assert.doesNotMatch(step.message, /alice|hunter2/);
    assert.equal(client.receive(enc("x")).state, "failed", "stays failed");
  });

  test("other statuses, other versions and garbage fail with what the proxy said", () => {
    const cases: [string, RegExp, number | undefined][] = [
      [
        "HTTP/1.1 403 Forbidden\r\n\r\n",
        /refused the tunnel: 403 Forbidden/,
        403,
      ],
      [
        "HTTP/1.0 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
        /502 Bad Gateway/,
        502,
      ],
      ["HTTP/2.0 200 OK\r\n\r\n", /HTTP\/2\.0/, 200],
      ["SSH-2.0-OpenSSH\r\n\r\n", /bad answer from the proxy/, undefined],
    ];
    for (const [answer, message, status] of cases) {
      const step = new ConnectClient("h", 1).receive(enc(answer));
      assert.equal(step.state, "failed", answer);
      if (step.state !== "failed") continue;
      assert.match(step.message, message);
      assert.equal(step.status, status);
    }
  });
});
