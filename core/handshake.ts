/**
 * The RFC 6455 opening handshake, both sides, without I/O.
 *
 * Client: {@link buildClientRequest} produces the upgrade request bytes and
 * remembers what was offered; parse the reply with
 * `HttpHeadParser.response()` (./http.ts) and check it with
 * {@link validateServerResponse}. Server: parse with `HttpHeadParser.request()`,
 * check with {@link validateUpgradeRequest}, then answer with
 * {@link buildAcceptResponse} or — when it throws a {@link HandshakeError}, or
 * the application declines — {@link buildRejectResponse}. The validators throw
 * {@link HandshakeError} (the peer's fault, a `PeerError` with an id); the
 * builders throw `LocalError` (the caller's). {@link computeAccept}
 * is the key → `Sec-WebSocket-Accept` transform.
 *
 * Server-side status choices: a method other than GET is 405 (with
 * `Allow: GET`); a missing or non-`websocket` `Upgrade` and an unsupported
 * `Sec-WebSocket-Version` are 426 (with `Upgrade: websocket` and
 * `Sec-WebSocket-Version: 13`); every other malformed request, including a
 * `Connection` without the `upgrade` option, is 400.
 *
 * @example
 * ```ts
 * import { computeAccept } from "./handshake.ts";
 * computeAccept("dGhlIHNhbXBsZSBub25jZQ=="); // "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
 * ```
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "./base64.ts";
import {
  encodeLatin1,
  type HeaderMap,
  isFieldValue,
  isToken,
  parseHost,
} from "./http.ts";
import type { HttpRequestHead, HttpResponseHead } from "./http.ts";
import { sha1 } from "./sha1.ts";
import { type ErrorId, LocalError, PeerError } from "./errors.ts";

/** The GUID RFC 6455 appends to the key before hashing. */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/**
 * Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`:
 * `base64(SHA-1(key + GUID))`, synchronously.
 *
 * @param key The client's key, exactly as sent (not decoded).
 * @returns The accept token.
 */
export function computeAccept(key: string): string {
  return encodeBase64(sha1(encodeLatin1(key + WEBSOCKET_GUID)));
}

/**
 * Generates a fresh `Sec-WebSocket-Key`: 16 bytes from
 * `crypto.getRandomValues`, base64-encoded (24 characters).
 */
export function generateKey(): string {
  return encodeBase64(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * The peer's side of the opening handshake is wrong: a {@linkcode PeerError}
 * (close code 1006: no frame can be sent yet) thrown by
 * {@link validateUpgradeRequest} (with the HTTP `status` to answer) and
 * {@link validateServerResponse} (no `status`; the connection reports the
 * response's). `instanceof HandshakeError` means "the peer's handshake was
 * bad"; a bad local URL, option or header is a {@linkcode LocalError}.
 */
export class HandshakeError extends PeerError {
  /** Creates an error with a message, a status (server side) and an id. */
  constructor(
    message: string,
    status?: number,
    id: ErrorId = "WS_ERR_INVALID_REQUEST",
  ) {
    super(1006, message, id, { status });
    this.name = "HandshakeError";
  }
}

/** Extra header fields: pairs (a `Map`, a `Headers`, an array) or a record. */
export type HeaderInit =
  | Iterable<readonly [string, string]>
  | Record<string, string>;

/** Options for {@link buildClientRequest}. */
export interface ClientRequestOptions {
  /** Subprotocols to offer, most preferred first. Each must be a token; no duplicates. */
  protocols?: string | string[];
  /** The raw `Sec-WebSocket-Extensions` offer, e.g. `"permessage-deflate"`. */
  extensions?: string;
  /** The `Origin` header value. */
  origin?: string;
  /** Extra header fields; they may not replace the handshake's own fields. */
  headers?: HeaderInit;
  /** A fixed key, for tests only. Must be base64 of 16 bytes. */
  key?: string;
}

/** A client upgrade request and what it offered. */
export interface ClientRequest {
  /** The serialized request head, ready to write. */
  bytes: Uint8Array;
  /** The `Sec-WebSocket-Key` sent. */
  key: string;
  /** The normalized `ws:`/`wss:` URL. */
  url: URL;
  /** The subprotocols offered, in order (empty if none). */
  protocols: string[];
  /** The extension offer sent, or `undefined` if none. */
  extensions: string | undefined;
}

/** What the server agreed to in a valid 101 response. */
export interface ServerResponseResult {
  /** The selected subprotocol, or `""` if none. */
  protocol: string;
  /** The server's `Sec-WebSocket-Extensions` value, or `""` if absent. */
  extensions: string;
}

/** A validated server-side upgrade request. */
export interface UpgradeRequest {
  /** Always `"GET"`. */
  method: string;
  /**
   * The request target as sent: origin-form (`/chat?x`) or absolute-form
   * (`ws://example.com/chat?x`, which RFC 9112 §3.2.2 requires a server to
   * accept).
   */
  target: string;
  /**
   * The path part of the target (no query), e.g. `"/chat"`, as sent. For an
   * absolute-form target it is the path after the authority (`"/"` when
   * there is none).
   */
  path: string;
  /** All request header fields. */
  headers: HeaderMap;
  /** The client's `Sec-WebSocket-Key`. */
  key: string;
  /** The WebSocket protocol version (`Sec-WebSocket-Version`), always `"13"`. */
  version: string;
  /** The subprotocols the client offered, in order. */
  protocols: string[];
  /** The raw `Sec-WebSocket-Extensions` offer, or `undefined`. */
  extensions: string | undefined;
  /** The `Origin` header, or `undefined`. */
  origin: string | undefined;
  /**
   * The authority the request is for, `host[:port]` as sent and validated
   * ({@link parseHost}): the `Host` header, or for an absolute-form target
   * the target's authority, which RFC 9112 §3.2.2 says replaces `Host`
   * (the `Host` header must then still be present once and valid, and stays
   * in `headers`).
   */
  host: string;
}

/** Options for {@link buildAcceptResponse}. */
export interface AcceptOptions {
  /** The selected subprotocol; must be one the client offered. */
  protocol?: string;
  /** The `Sec-WebSocket-Extensions` response value (negotiated elsewhere). */
  extensions?: string;
  /** Extra header fields; they may not replace the handshake's own fields. */
  headers?: HeaderInit;
}

/** Options for {@link buildRejectResponse}. */
export interface RejectOptions {
  /** Extra header fields (`Content-Type` may be replaced; framing fields may not). */
  headers?: HeaderInit;
  /** A plain-text body, sent as UTF-8; defaults to the reason phrase. */
  body?: string;
}

const OWS_SP = 0x20;
const OWS_HTAB = 0x09;

/**
 * Splits a comma-separated header list leniently: items are trimmed of SP/HTAB
 * and empty items are dropped. `undefined` gives `[]`.
 */
export function parseProtocolList(value: string | undefined): string[] {
  const out: string[] = [];
  if (value === undefined) return out;
  let start = 0;
  while (start <= value.length) {
    let end = value.indexOf(",", start);
    if (end === -1) end = value.length;
    let a = start;
    let b = end;
    while (a < b && isOws(value.charCodeAt(a))) a++;
    while (b > a && isOws(value.charCodeAt(b - 1))) b--;
    if (b > a) out.push(value.slice(a, b));
    start = end + 1;
  }
  return out;
}

function isOws(c: number): boolean {
  return c === OWS_SP || c === OWS_HTAB;
}

/** Whether the comma list `value` has an item equal to `token`, ignoring ASCII case. */
function hasToken(value: string | undefined, token: string): boolean {
  for (const item of parseProtocolList(value)) {
    if (item.toLowerCase() === token) return true;
  }
  return false;
}

/** Turns a header init into a validated list of pairs. */
function headerPairs(
  init: HeaderInit | undefined,
  reserved: Set<string>,
): [string, string][] {
  const out: [string, string][] = [];
  if (init === undefined) return out;
  const pairs: Iterable<readonly [string, string]> = Symbol.iterator in init
    ? (init as Iterable<readonly [string, string]>)
    : Object.entries(init);
  for (const [name, value] of pairs) {
    if (typeof name !== "string" || !isToken(name)) {
      throw new LocalError(
        "syntax",
        `invalid header name ${JSON.stringify(name)}`,
      );
    }
    if (typeof value !== "string" || !isFieldValue(value)) {
      throw new LocalError("syntax", `invalid value for header "${name}"`);
    }
    if (reserved.has(name.toLowerCase())) {
      throw new LocalError(
        "argument",
        `header "${name}" is set by the handshake and cannot be given`,
      );
    }
    out.push([name, value]);
  }
  return out;
}

function checkValue(what: string, value: string): void {
  if (!isFieldValue(value)) {
    throw new LocalError("syntax", `invalid ${what} value`);
  }
}

function serialize(startLine: string, fields: [string, string][]): string {
  let text = startLine + "\r\n";
  for (const [name, value] of fields) text += name + ": " + value + "\r\n";
  return text + "\r\n";
}

const CLIENT_RESERVED = new Set([
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "sec-websocket-accept",
  "origin",
  "content-length",
  "transfer-encoding",
]);

/**
 * Builds a client upgrade request.
 *
 * `url` must be absolute with scheme `ws:` or `wss:` (`http:`/`https:` are
 * mapped to them, as browsers do) and no fragment. The target is path + query;
 * `Host` carries the port only when it is not the default (80/443), and IPv6
 * hosts are bracketed. Credentials in the URL (`user:pass@`) are sent as
 * `Authorization: Basic …` (percent-decoded, then base64), as browsers do,
 * unless `headers` gives an `Authorization` field of its own.
 *
 * @throws {LocalError} of kind `"syntax"` on a bad URL, invalid or duplicate
 *   subprotocols, bad header names or values (CR/LF injection) or an invalid
 *   `key`; of kind `"argument"` for an extra header that would replace a
 *   handshake field (`Host`, `Upgrade`, `Connection`, `Sec-WebSocket-*`,
 *   `Origin` — use the options).
 */
export function buildClientRequest(
  url: string | URL,
  options: ClientRequestOptions = {},
): ClientRequest {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new LocalError("syntax", `invalid URL: ${String(url)}`);
  }
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  else if (parsed.protocol === "https:") parsed.protocol = "wss:";
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new LocalError(
      "syntax",
      `URL scheme must be ws: or wss:, got ${parsed.protocol}`,
    );
  }
  if (parsed.href.includes("#")) {
    throw new LocalError("syntax", "URL must not have a fragment");
  }

  const raw = options.protocols;
  const protocols = raw === undefined
    ? []
    : typeof raw === "string"
    ? [raw]
    : [...raw];
  const seen = new Set<string>();
  for (const p of protocols) {
    if (typeof p !== "string" || !isToken(p)) {
      throw new LocalError(
        "syntax",
        `invalid subprotocol ${JSON.stringify(p)}`,
      );
    }
    if (seen.has(p)) {
      throw new LocalError("syntax", `duplicate subprotocol "${p}"`);
    }
    seen.add(p);
  }

  let key: string;
  if (options.key !== undefined) {
    if (decodeBase64(options.key)?.length !== 16) {
      throw new LocalError("syntax", "key must be base64 of 16 bytes");
    }
    key = options.key;
  } else {
    key = generateKey();
  }

  const extensions = options.extensions;
  if (extensions !== undefined) {
    checkValue("Sec-WebSocket-Extensions", extensions);
  }
  if (options.origin !== undefined) checkValue("Origin", options.origin);
  const extra = headerPairs(options.headers, CLIENT_RESERVED);

  // URL#host brackets IPv6 and omits the port when it is the scheme default
  // (80 for ws:, 443 for wss:); the scheme switch above keeps that true.
  const host = parsed.host;
  // Special-scheme URLs always have a pathname of at least "/".
  const target = parsed.pathname + parsed.search;

  const fields: [string, string][] = [
    ["Host", host],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", key],
    ["Sec-WebSocket-Version", "13"],
  ];
  if (protocols.length > 0) {
    fields.push(["Sec-WebSocket-Protocol", protocols.join(", ")]);
  }
  if (extensions !== undefined) {
    fields.push(["Sec-WebSocket-Extensions", extensions]);
  }
  if (options.origin !== undefined) fields.push(["Origin", options.origin]);
  if (
    (parsed.username !== "" || parsed.password !== "") &&
    !extra.some(([name]) => name.toLowerCase() === "authorization")
  ) {
    fields.push(["Authorization", basicCredentials(parsed)]);
  }
  fields.push(...extra);

  return {
    bytes: encodeLatin1(serialize(`GET ${target} HTTP/1.1`, fields)),
    key,
    url: parsed,
    protocols,
    extensions,
  };
}

/** The `Basic` credentials value for a URL's (percent-encoded) user info. */
function basicCredentials(url: URL): string {
  const userInfo = percentDecode(url.username + ":" + url.password);
  return "Basic " + encodeBase64(userInfo);
}

/**
 * Percent-decodes `text` to bytes (URL spec): `%XX` is the byte XX, any
 * other `%` stays; other characters are UTF-8 encoded.
 */
function percentDecode(text: string): Uint8Array {
  const raw = new TextEncoder().encode(text);
  const out = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const hi = hexValue(raw[i + 1]);
    const lo = hexValue(raw[i + 2]);
    if (raw[i] === 0x25 && hi >= 0 && lo >= 0) {
      out[n++] = hi * 16 + lo;
      i += 2;
    } else {
      out[n++] = raw[i];
    }
  }
  return out.subarray(0, n);
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Checks a server's response to `request` (RFC 6455 §4.1, client side).
 *
 * @returns The selected subprotocol and the raw extensions value (`""` when
 *   absent). Checking the extensions against the offer is the extension code's job.
 * @throws {HandshakeError} (a `PeerError`) with a distinct message and an
 *   id per failed rule.
 */
export function validateServerResponse(
  head: HttpResponseHead,
  request: ClientRequest,
): ServerResponseResult {
  const h = head.headers;
  if (head.status !== 101) {
    const text = head.statusText ? ` ${head.statusText}` : "";
    throw new HandshakeError(
      `unexpected response status ${head.status}${text} (expected 101)`,
      undefined,
      "WS_ERR_UNEXPECTED_STATUS",
    );
  }
  if (head.version !== "1.1") {
    throw new HandshakeError(
      `HTTP/${head.version} response cannot upgrade (need HTTP/1.1)`,
      undefined,
      "WS_ERR_UNEXPECTED_STATUS",
    );
  }
  const upgrade = h.get("upgrade");
  if (upgrade === undefined) {
    throw new HandshakeError(
      "missing Upgrade header in response",
      undefined,
      "WS_ERR_INVALID_UPGRADE_HEADER",
    );
  }
  const upgrades = parseProtocolList(upgrade);
  if (upgrades.length !== 1 || upgrades[0].toLowerCase() !== "websocket") {
    throw new HandshakeError(
      `invalid Upgrade header in response: ${JSON.stringify(upgrade)}`,
      undefined,
      "WS_ERR_INVALID_UPGRADE_HEADER",
    );
  }
  if (!hasToken(h.get("connection"), "upgrade")) {
    throw new HandshakeError(
      'Connection header in response lacks the "upgrade" option',
      undefined,
      "WS_ERR_INVALID_CONNECTION_HEADER",
    );
  }
  const accept = h.get("sec-websocket-accept");
  if (accept === undefined) {
    throw new HandshakeError(
      "missing Sec-WebSocket-Accept header",
      undefined,
      "WS_ERR_INVALID_ACCEPT",
    );
  }
  if (accept !== computeAccept(request.key)) {
    throw new HandshakeError(
      "Sec-WebSocket-Accept does not match the key",
      undefined,
      "WS_ERR_INVALID_ACCEPT",
    );
  }
  const protocol = h.get("sec-websocket-protocol");
  if (protocol !== undefined) {
    if (request.protocols.length === 0) {
      throw new HandshakeError(
        `server selected subprotocol ${
          JSON.stringify(protocol)
        } but none was offered`,
        undefined,
        "WS_ERR_INVALID_SUBPROTOCOL",
      );
    }
    if (!request.protocols.includes(protocol)) {
      throw new HandshakeError(
        `server selected subprotocol ${
          JSON.stringify(protocol)
        } which was not offered`,
        undefined,
        "WS_ERR_INVALID_SUBPROTOCOL",
      );
    }
  }
  const extensions = h.get("sec-websocket-extensions");
  if (extensions !== undefined && request.extensions === undefined) {
    throw new HandshakeError(
      "server sent Sec-WebSocket-Extensions but none were offered",
      undefined,
      "WS_ERR_INVALID_EXTENSION",
    );
  }
  return { protocol: protocol ?? "", extensions: extensions ?? "" };
}

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
