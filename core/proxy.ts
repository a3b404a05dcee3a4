/**
 * Proxy rules as pure functions: parse a proxy URL, choose the proxy for a
 * target from environment variables as curl does (`http_proxy`,
 * `https_proxy`, `all_proxy`, `no_proxy`, lower case first, then upper
 * case), match `NO_PROXY`, and build an HTTP `CONNECT` request (RFC 9110
 * §9.3.6). The environment is passed in as a function, so nothing here
 * reads a runtime global.
 *
 * @example
 * ```ts
 * import { proxyFromEnv } from "./proxy.ts";
 *
 * const env: Record<string, string> = {
 *   HTTPS_PROXY: "http://proxy.internal:3128",
 *   NO_PROXY: "localhost,.internal,10.0.0.0/8",
 * };
 * proxyFromEnv(new URL("wss://example.com/"), (name) => env[name]);
 * // "http://proxy.internal:3128"
 * proxyFromEnv(new URL("wss://api.internal/"), (name) => env[name]);
 * // undefined: NO_PROXY matches
 * ```
 *
 * @module
 */

import { encodeBase64 } from "./base64.ts";
import { errorMessage } from "./errors.ts";
import { HttpHeadParser, type HttpResponseHead } from "./http.ts";
import { inPrefix, parseIP } from "./ip.ts";

/** A parsed proxy URL. */
export interface ProxyConfig {
  /** `http:` or `https:` (CONNECT), `socks5:` (we resolve) or `socks5h:` (the proxy resolves). */
  protocol: "http:" | "https:" | "socks5:" | "socks5h:";
  /** Host name or IP literal, without IPv6 brackets. */
  host: string;
  /** Port; the scheme's default when the URL has none (80, 443, 1080). */
  port: number;
  /** Username from the URL, percent-decoded. */
  username?: string;
  /** Password from the URL, percent-decoded. */
  password?: string;
}

const DEFAULT_PORTS: Readonly<Record<ProxyConfig["protocol"], number>> = {
  "http:": 80,
  "https:": 443,
  "socks5:": 1080,
  "socks5h:": 1080,
};

/**
 * Parses `http://[user:pass@]host[:port]` (also `https:`, `socks5:`,
 * `socks5h:`). A value without a scheme is taken as `http://`, as curl does.
 *
 * @throws {SyntaxError} when it is not a URL, has another scheme, or has a
 *   path, query or fragment. The message never holds the credentials.
 */
export function parseProxy(text: string): ProxyConfig {
  const withScheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(text)
    ? text
    : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new SyntaxError("invalid proxy URL");
  }
  const protocol = url.protocol as ProxyConfig["protocol"];
  if (!(protocol in DEFAULT_PORTS)) {
    throw new SyntaxError(`unsupported proxy scheme ${url.protocol}`);
  }
  if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) {
    throw new SyntaxError("a proxy URL has no path, query or fragment");
  }
  if (url.hostname === "") throw new SyntaxError("a proxy URL needs a host");
  const host = url.hostname.startsWith("[")
    ? url.hostname.slice(1, -1)
    : url.hostname;
  const config: ProxyConfig = {
    protocol,
    host,
    port: url.port === "" ? DEFAULT_PORTS[protocol] : Number(url.port),
  };
  if (url.username !== "" || url.password !== "") {
    try {
      config.username = decodeURIComponent(url.username);
      config.password = decodeURIComponent(url.password);
    } catch {
      throw new SyntaxError(
        "invalid percent-encoding in the proxy credentials",
      );
    }
  }
  return config;
}

/** Reads an environment variable: lower-case name first, then upper case. */
function either(
  get: (name: string) => string | undefined,
  name: string,
): string | undefined {
  return get(name.toLowerCase()) ?? get(name.toUpperCase());
}

/**
 * The proxy URL to use for `target` by the environment, or undefined to
 * connect directly: `ws:`/`http:` targets use `http_proxy`, `wss:`/`https:`
 * ones `https_proxy`, both fall back to `all_proxy`; `no_proxy` lists the
 * hosts reached directly (see {@linkcode bypassesProxy}). An empty value
 * counts as unset.
 */
export function proxyFromEnv(
  target: URL,
  get: (name: string) => string | undefined,
): string | undefined {
  const secure = target.protocol === "wss:" || target.protocol === "https:";
  const proxy = nonEmpty(either(get, secure ? "https_proxy" : "http_proxy")) ??
    nonEmpty(either(get, "all_proxy"));
  if (proxy === undefined) return undefined;
  const noProxy = either(get, "no_proxy");
  if (noProxy !== undefined && bypassesProxy(target.hostname, noProxy)) {
    return undefined;
  }
  return proxy;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

/**
 * Whether `host` is reached directly by a `NO_PROXY` list, as curl reads
 * it: comma-separated entries, case-insensitive; `*` alone matches every
 * host; a name matches itself and every name under it (`example.com` and a
 * leading-dot `.example.com` both match `example.com` and
 * `www.example.com`, not `notexample.com`); an IP literal (IPv6 without
 * brackets) matches that address, and `address/bits` (CIDR) the addresses
 * in that prefix. A `:port` after a name is ignored.
 */
export function bypassesProxy(host: string, noProxy: string): boolean {
  const list = noProxy.trim();
  if (list === "*") return true;
  let name = host.toLowerCase();
  if (name.startsWith("[") && name.endsWith("]")) name = name.slice(1, -1);
  if (name.endsWith(".")) name = name.slice(0, -1);
  const address = parseIP(name);
  for (const raw of list.split(",")) {
    let entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    if (entry === "*") return true;
    const slash = entry.indexOf("/");
    if (slash >= 0) {
      const network = parseIP(entry.slice(0, slash));
      const bitsText = entry.slice(slash + 1);
      if (
        address !== undefined && network !== undefined &&
        /^[0-9]{1,3}$/.test(bitsText) &&
        inPrefix(address, network, Number(bitsText))
      ) {
        return true;
      }
      continue;
    }
    if (entry.startsWith("[")) {
      const end = entry.indexOf("]");
      entry = end > 0 ? entry.slice(1, end) : entry;
    }
    const ip = parseIP(entry);
    if (ip !== undefined) {
      if (address !== undefined && inPrefix(address, ip, ip.length * 8)) {
        return true;
      }
      continue;
    }
    // A name, maybe with a port (ignored) and a leading or trailing dot.
    const colon = entry.indexOf(":");
    if (colon >= 0) entry = entry.slice(0, colon);
    if (entry.startsWith(".")) entry = entry.slice(1);
    if (entry.endsWith(".")) entry = entry.slice(0, -1);
    if (entry === "") continue;
    if (name === entry || name.endsWith(`.${entry}`)) return true;
  }
  return false;
}

/**
 * The `CONNECT` request that asks an HTTP proxy for a tunnel to
 * `host`:`port`, with `Proxy-Authorization: Basic` when credentials are
 * given (RFC 7617: `user:pass` as UTF-8, base64).
 *
 * @throws {RangeError} on a port outside 1–65535.
 * @throws {SyntaxError} on a host with characters a request line cannot carry.
 */
export function buildConnectRequest(
  host: string,
  port: number,
  credentials?: { username: string; password: string },
): Uint8Array {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`invalid port: ${port}`);
  }
  const bare = host.startsWith("[") && host.endsWith("]")
    ? host.slice(1, -1)
    : host;
  if (!/^[A-Za-z0-9._~%!$&'()*+,;=:-]+$/.test(bare)) {
    throw new SyntaxError("invalid host for CONNECT");
  }
  const authority = bare.includes(":")
    ? `[${bare}]:${port}`
    : `${bare}:${port}`;
  let head = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
  if (credentials !== undefined) {
    const token = encodeBase64(
      new TextEncoder().encode(
        `${credentials.username}:${credentials.password}`,
      ),
    );
    head += `Proxy-Authorization: Basic ${token}\r\n`;
  }
  return new TextEncoder().encode(`${head}\r\n`);
}

/** What a {@linkcode ConnectClient} reports after each `receive`. */
export type ConnectStep =
  | {
    /** The proxy's answer is not complete yet. */
    state: "pending";
  }
  | {
    /** The proxy answered 2xx: the tunnel is open. */
    state: "open";
    /** Bytes after the answer: the target's, in order. */
    rest: Uint8Array;
  }
  | {
    /** The proxy refused or answered badly; close the transport. */
    state: "failed";
    /** Why, for people (with the proxy's status and, for 407, its challenge); never the credentials. */
    message: string;
    /** The proxy's HTTP status, when it answered one. */
    status?: number;
  };

/**
 * The client side of an HTTP `CONNECT` tunnel, sans-IO: write
 * {@linkcode ConnectClient.takeOutput} to the proxy, feed its answer to
 * {@linkcode ConnectClient.receive} until `open` (any 2xx, RFC 9110 §9.3.6)
 * or `failed` (407 with the proxy's `Proxy-Authenticate`, any other status,
 * or a malformed answer).
 */
export class ConnectClient {
  #output: Uint8Array[];
  #parser: HttpHeadParser<HttpResponseHead> | undefined = HttpHeadParser
    .response();

  /** Prepares the request; throws as {@linkcode buildConnectRequest} does. */
  constructor(
    host: string,
    port: number,
    credentials?: { username: string; password: string },
  ) {
    this.#output = [buildConnectRequest(host, port, credentials)];
  }

  /** Bytes to write to the proxy now (then forgotten here). */
  takeOutput(): Uint8Array[] {
    const output = this.#output;
    this.#output = [];
    return output;
  }

  /** Takes bytes from the proxy; says where the tunnel stands. */
  receive(chunk: Uint8Array): ConnectStep {
    const parser = this.#parser;
    if (parser === undefined) {
      return { state: "failed", message: "the CONNECT exchange is over" };
    }
    let result;
    try {
      result = parser.push(chunk);
    } catch (error) {
      this.#parser = undefined;
      const why = errorMessage(error);
      return { state: "failed", message: `bad answer from the proxy: ${why}` };
    }
    if (!result.done) return { state: "pending" };
    this.#parser = undefined;
    // (`version` is "major.minor"; the parser accepts any HTTP/d.d.)
    const { status, statusText, version, headers } = result.head;
    if (!version.startsWith("1.")) {
      return {
        state: "failed",
        message: `the proxy answered in HTTP/${version}`,
        status,
      };
    }
    if (status >= 100 && status <= 199) {
      // An interim answer (RFC 9110 §15.2): the final one follows.
      this.#parser = HttpHeadParser.response();
      return this.receive(result.rest);
    }
    if (status >= 200 && status <= 299) {
      return { state: "open", rest: result.rest };
    }
    const answer = `${status}${statusText === "" ? "" : ` ${statusText}`}`;
    if (status === 407) {
      const challenge = headers.get("proxy-authenticate");
      return {
        state: "failed",
        message: `the proxy requires authentication (407)` +
          (challenge === undefined ? "" : `: Proxy-Authenticate: ${challenge}`),
        status,
      };
    }
    return {
      state: "failed",
      message: `the proxy refused the tunnel: ${answer}`,
      status,
    };
  }
}
