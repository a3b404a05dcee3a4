/**
 * The server side of the opening handshake (RFC 6455 §4.2): check the
 * upgrade request, build the accept or reject response. Import from
 * ./handshake.ts, which re-exports them.
 *
 * @module
 */

import { decodeBase64 } from "./base64.ts";
import { encodeLatin1, parseHost } from "./http.ts";
import type { HttpRequestHead } from "./http.ts";
import { LocalError } from "./errors.ts";
import {
  type AcceptOptions,
  checkValue,
  computeAccept,
  HandshakeError,
  hasToken,
  headerPairs,
  parseProtocolList,
  type RejectOptions,
  serialize,
  type UpgradeRequest,
} from "./handshake_common.ts";

/** A request target split into its parts. */
interface TargetParts {
  /** The authority of an absolute-form target; `undefined` for origin-form. */
  authority: string | undefined;
  /** The path, `"/"` at least. */
  path: string;
  /** The query with its `?`, or `""`. */
  query: string;
}

/** Schemes an absolute-form upgrade target may have (case-insensitive). */
const TARGET_SCHEMES = new Set(["http", "https", "ws", "wss"]);

/**
 * Splits an origin-form (`/path?query`) or absolute-form
 * (`scheme://authority/path?query`, scheme `http`, `https`, `ws` or `wss`)
 * request target. Returns `undefined` for any other form (`*`,
 * `host:port`), another scheme, or an absolute-form target whose authority
 * is not a valid `host[:port]` (empty, with user info, ...).
 */
function parseTarget(target: string): TargetParts | undefined {
  let authority: string | undefined;
  let start = 0;
  if (target.charCodeAt(0) !== 0x2f) {
    const scheme = target.indexOf("://");
    if (scheme <= 0) return undefined;
    if (!TARGET_SCHEMES.has(target.slice(0, scheme).toLowerCase())) {
      return undefined;
    }
    start = scheme + 3;
    let end = start;
    while (
      end < target.length && target[end] !== "/" && target[end] !== "?"
    ) end++;
    authority = target.slice(start, end);
    if (parseHost(authority) === undefined) return undefined;
    start = end;
  }
  const q = target.indexOf("?", start);
  const path = target.slice(start, q === -1 ? target.length : q);
  return {
    authority,
    path: path === "" ? "/" : path,
    query: q === -1 ? "" : target.slice(q),
  };
}

/**
 * The path (no query) of an origin-form or absolute-form request target,
 * the same `path` that {@link validateUpgradeRequest} reports: `"/chat"` for
 * both `/chat?x` and `ws://example.com/chat?x`. For an HTTP server's upgrade
 * hook that routes by path before the handshake runs.
 *
 * @returns The path, or `undefined` for a target the handshake rejects.
 */
export function requestTargetPath(target: string): string | undefined {
  return parseTarget(target)?.path;
}

/**
 * The URL a validated upgrade request asked for: scheme `wss:` when
 * `secure` (the server runs TLS), else `ws:`; the request's authority
 * (`request.host`); the target's path and query. Built with `URL` from the
 * validated parts (never by joining strings), so a `Host` header cannot
 * change the path, and an absolute-form target gives its own authority,
 * path and query. The result is WHATWG-normalized (dot segments resolved,
 * default port dropped, some characters percent-encoded), so route on
 * `request.path`, which is the path as sent.
 *
 * @throws {LocalError} (`"argument"`) if `request` did not come from
 *   {@link validateUpgradeRequest} and its host or target cannot form a URL.
 */
export function requestUrl(request: UpgradeRequest, secure: boolean): URL {
  const parts = parseTarget(request.target);
  if (parts === undefined || parseHost(request.host) === undefined) {
    throw new LocalError(
      "argument",
      "the request has no valid target and host",
    );
  }
  // parseHost admits no "/", "?", "#", "@" or "\" outside an IPv6 literal,
  // so this string has exactly this authority and an empty path.
  const url = new URL(`${secure ? "wss" : "ws"}://${request.host}`);
  url.pathname = parts.path;
  url.search = parts.query;
  return url;
}

/**
 * Checks a request head as a WebSocket upgrade (RFC 6455 §4.2.1).
 *
 * `Host` must appear exactly once and be a valid `uri-host [":" port]`
 * (RFC 9112 §3.2, see {@link parseHost}) that can form a URL. For an
 * absolute-form target the target's authority must be valid too, and it
 * becomes `host` (RFC 9112 §3.2.2: a server then ignores the `Host` value).
 *
 * @throws {HandshakeError} with `status`: 405 (not GET), 400 (HTTP version
 *   below 1.1, bad target, missing/duplicate/empty/invalid `Host`, a body announced via
 *   `Content-Length`/`Transfer-Encoding`, `Connection` without `upgrade`,
 *   missing/duplicate/invalid `Sec-WebSocket-Key`), 426 (`Upgrade` without
 *   `websocket`, `Sec-WebSocket-Version` missing or not `13`).
 */
export function validateUpgradeRequest(head: HttpRequestHead): UpgradeRequest {
  const h = head.headers;
  if (head.method !== "GET") {
    throw new HandshakeError(
      `method ${head.method} not allowed (expected GET)`,
      405,
      "WS_ERR_INVALID_METHOD",
    );
  }
  const [major, minor] = head.version.split(".").map(Number);
  if (major !== 1 || !(minor >= 1)) {
    throw new HandshakeError(
      `HTTP/${head.version} cannot upgrade (need HTTP/1.1)`,
      400,
    );
  }
  const target = parseTarget(head.target);
  if (target === undefined) {
    throw new HandshakeError("invalid request target", 400);
  }
  const hosts = h.getAll("host");
  if (hosts.length === 0) throw new HandshakeError("missing Host header", 400);
  if (hosts.length > 1) throw new HandshakeError("duplicate Host header", 400);
  if (hosts[0] === "") throw new HandshakeError("empty Host header", 400);
  if (parseHost(hosts[0]) === undefined || !formsUrl(hosts[0])) {
    throw new HandshakeError("invalid Host header", 400);
  }
  const host = target.authority ?? hosts[0];
  if (target.authority !== undefined && !formsUrl(host)) {
    throw new HandshakeError("invalid request target", 400);
  }
  if (
    h.has("transfer-encoding") ||
    (h.has("content-length") && h.get("content-length") !== "0")
  ) {
    throw new HandshakeError("upgrade request must not have a body", 400);
  }
  if (!hasToken(h.get("upgrade"), "websocket")) {
    throw new HandshakeError(
      'Upgrade header does not contain "websocket"',
      426,
      "WS_ERR_INVALID_UPGRADE_HEADER",
    );
  }
  if (!hasToken(h.get("connection"), "upgrade")) {
    throw new HandshakeError(
      'Connection header does not contain "upgrade"',
      400,
      "WS_ERR_INVALID_CONNECTION_HEADER",
    );
  }
  const version = h.get("sec-websocket-version");
  if (version === undefined) {
    throw new HandshakeError(
      "missing Sec-WebSocket-Version header",
      426,
      "WS_ERR_UNSUPPORTED_VERSION",
    );
  }
  if (version !== "13") {
    throw new HandshakeError(
      `unsupported Sec-WebSocket-Version ${JSON.stringify(version)}`,
      426,
      "WS_ERR_UNSUPPORTED_VERSION",
    );
  }
  const keys = h.getAll("sec-websocket-key");
  if (keys.length === 0) {
    throw new HandshakeError(
      "missing Sec-WebSocket-Key header",
      400,
      "WS_ERR_INVALID_KEY",
    );
  }
  if (keys.length > 1) {
    throw new HandshakeError(
      "duplicate Sec-WebSocket-Key header",
      400,
      "WS_ERR_INVALID_KEY",
    );
  }
  const key = keys[0];
  if (decodeBase64(key)?.length !== 16) {
    throw new HandshakeError(
      "Sec-WebSocket-Key is not base64 of 16 bytes",
      400,
      "WS_ERR_INVALID_KEY",
    );
  }
  return {
    method: head.method,
    target: head.target,
    path: target.path,
    headers: h,
    key,
    version,
    protocols: parseProtocolList(h.get("sec-websocket-protocol")),
    extensions: h.get("sec-websocket-extensions"),
    origin: h.get("origin"),
    host,
  };
}

/**
 * Whether a host that {@link parseHost} accepted can also be a URL's host:
 * the WHATWG host parser is stricter in places (e.g. `%00`, `%2F`, an IPv4
 * octet over 255 such as `1.2.3.999`, bad punycode).
 */
function formsUrl(host: string): boolean {
  try {
    new URL(`ws://${host}`);
    return true;
  } catch {
    return false;
  }
}

const ACCEPT_RESERVED = new Set([
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "sec-websocket-version",
  "content-length",
  "transfer-encoding",
]);

/**
 * Builds the `101 Switching Protocols` response accepting `request`.
 *
 * @throws {LocalError} if `protocol` was not offered by the client
 *   (`"argument"`), or on invalid (`"syntax"`) or reserved (`"argument"`)
 *   extra headers or an invalid extensions value (`"syntax"`).
 */
export function buildAcceptResponse(
  request: UpgradeRequest,
  options: AcceptOptions = {},
): Uint8Array {
  const fields: [string, string][] = [
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Accept", computeAccept(request.key)],
  ];
  const { protocol, extensions } = options;
  if (protocol !== undefined && protocol !== "") {
    if (!request.protocols.includes(protocol)) {
      throw new LocalError(
        "argument",
        `subprotocol ${JSON.stringify(protocol)} was not offered by the client`,
      );
    }
    fields.push(["Sec-WebSocket-Protocol", protocol]);
  }
  if (extensions !== undefined && extensions !== "") {
    checkValue("Sec-WebSocket-Extensions", extensions);
    fields.push(["Sec-WebSocket-Extensions", extensions]);
  }
  fields.push(...headerPairs(options.headers, ACCEPT_RESERVED));
  return encodeLatin1(serialize("HTTP/1.1 101 Switching Protocols", fields));
}

const REASONS: ReadonlyMap<number, string> = new Map([
  [300, "Multiple Choices"],
  [301, "Moved Permanently"],
  [302, "Found"],
  [303, "See Other"],
  [307, "Temporary Redirect"],
  [308, "Permanent Redirect"],
  [400, "Bad Request"],
  [401, "Unauthorized"],
  [403, "Forbidden"],
  [404, "Not Found"],
  [405, "Method Not Allowed"],
  [426, "Upgrade Required"],
  [429, "Too Many Requests"],
  [431, "Request Header Fields Too Large"],
  [500, "Internal Server Error"],
  [503, "Service Unavailable"],
]);

const REJECT_RESERVED = new Set([
  "content-length",
  "transfer-encoding",
  "connection",
]);

/**
 * Builds a complete error response (head and body) refusing an upgrade; the
 * connection should be closed after writing it.
 *
 * Always sends `Content-Type: text/plain; charset=utf-8` (unless replaced via
 * `headers`), `Content-Length` and `Connection: close`. A 405 adds
 * `Allow: GET`; a 426 adds `Upgrade: websocket` and `Sec-WebSocket-Version: 13`
 * (and `Connection: upgrade, close`, since RFC 9110 requires the `upgrade`
 * option beside an `Upgrade` field) unless `headers` gives those fields.
 *
 * @param status An integer 400–599, or a redirect 300–399 when `headers`
 *   give a `Location` (e.g. to send a browser to a login page). Unknown
 *   codes get the reason phrase `"Error"` (`"Redirect"` for 3xx).
 * @throws {LocalError} (`"argument"`) on a status outside 300–599, or a 3xx
 *   without `Location`; on invalid extra headers, or ones that set
 *   `Content-Length`, `Transfer-Encoding` or `Connection`.
 */
export function buildRejectResponse(
  status: number,
  options: RejectOptions = {},
): Uint8Array {
  if (!Number.isInteger(status) || status < 300 || status > 599) {
    throw new LocalError(
      "argument",
      `rejection status must be an integer 400-599 (or 3xx with Location), got ${status}`,
    );
  }
  const extra = headerPairs(options.headers, REJECT_RESERVED);
  const given = new Set(extra.map(([name]) => name.toLowerCase()));
  if (status < 400 && !given.has("location")) {
    throw new LocalError(
      "argument",
      `a ${status} redirect needs a Location header`,
    );
  }
  const reason = REASONS.get(status) ?? (status < 400 ? "Redirect" : "Error");
  const body = new TextEncoder().encode(options.body ?? reason);
  const fields: [string, string][] = [];
  if (!given.has("content-type")) {
    fields.push(["Content-Type", "text/plain; charset=utf-8"]);
  }
  fields.push(["Content-Length", String(body.length)]);
  if (status === 426) {
    fields.push(["Connection", "Upgrade, close"]);
    if (!given.has("upgrade")) fields.push(["Upgrade", "websocket"]);
    if (!given.has("sec-websocket-version")) {
      fields.push(["Sec-WebSocket-Version", "13"]);
    }
  } else {
    fields.push(["Connection", "close"]);
  }
  if (status === 405 && !given.has("allow")) fields.push(["Allow", "GET"]);
  fields.push(...extra);
  const head = encodeLatin1(serialize(`HTTP/1.1 ${status} ${reason}`, fields));
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}
