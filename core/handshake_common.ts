/**
 * What both sides of the opening handshake share: the accept transform, the
 * peer's-fault error, the request/response types and the header helpers.
 * Import from ./handshake.ts, which re-exports the public names.
 *
 * @module
 */

import { encodeBase64 } from "./base64.ts";
import { encodeLatin1, type HeaderMap, isFieldValue, isToken } from "./http.ts";
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
export function hasToken(value: string | undefined, token: string): boolean {
  for (const item of parseProtocolList(value)) {
    if (item.toLowerCase() === token) return true;
  }
  return false;
}

/** Turns a header init into a validated list of pairs. */
export function headerPairs(
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

/** Throws a `LocalError` (`"syntax"`) unless `value` may be a field value. */
export function checkValue(what: string, value: string): void {
  if (!isFieldValue(value)) {
    throw new LocalError("syntax", `invalid ${what} value`);
  }
}

/** A message head: the start line, the fields, the blank line. */
export function serialize(
  startLine: string,
  fields: [string, string][],
): string {
  let text = startLine + "\r\n";
  for (const [name, value] of fields) text += name + ": " + value + "\r\n";
  return text + "\r\n";
}
