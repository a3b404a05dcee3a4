/**
 * wskit's two kinds of error (the h11/wsproto model):
 *
 * - {@linkcode LocalError}: the local program misused wskit (a bad
 *   argument, a call in the wrong state). It is thrown to the caller; the
 *   socket layer turns it into what a browser throws (a `DOMException`).
 * - {@linkcode PeerError}: the peer broke RFC 6455 (or a limit). It is
 *   never thrown out of a `Connection`: the connection fails with its close
 *   `code` (or answers its HTTP `status` during the handshake), and the
 *   `error` event carries its stable {@linkcode ErrorId}, so code can match
 *   on `event.id` instead of on the wording of a message.
 *
 * Anything else that reaches a connection is a bug in wskit (or in an
 * extension): the connection fails with 1011, id `WS_ERR_INTERNAL`, and the
 * original exception is kept as the `error` event's `cause`.
 *
 * @example
 * ```ts
 * import { Connection } from "./connection.ts";
 *
 * const server = new Connection({ role: "server" });
 * // An unmasked frame from a client.
 * for (const event of server.receive(new Uint8Array([0x81, 0x00]))) {
 *   if (event.type === "error") console.log(event.id, event.code);
 *   // "WS_ERR_EXPECTED_MASK" 1002
 * }
 * ```
 *
 * @module
 */

/**
 * A stable id of an `error` event (see {@linkcode ERROR_IDS}). Where ws
 * (`lib/receiver.js`) has an id for the same violation, wskit uses it.
 */
export type ErrorId =
  // ---- frames (close code 1002 unless said) ----
  /** A reserved bit (RSV1) no negotiated extension uses. */
  | "WS_ERR_UNEXPECTED_RSV_1"
  /** RSV2 or RSV3 set without an extension that uses it. */
  | "WS_ERR_UNEXPECTED_RSV_2_3"
  /**
   * A reserved opcode, a continuation with no message, or a new data frame
   * inside a fragmented message.
   */
  | "WS_ERR_INVALID_OPCODE"
  /** A fragmented control frame. */
  | "WS_ERR_EXPECTED_FIN"
  /** A control frame over 125 bytes, or a close frame of 1 byte. */
  | "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH"
  /** A 64-bit payload length with its top bit set. */
  | "WS_ERR_INVALID_PAYLOAD_LENGTH"
  /** A frame length past 2^53 - 1 (1009). */
  | "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH"
  /** An unmasked frame from a client. */
  | "WS_ERR_EXPECTED_MASK"
  /** A masked frame from a server. */
  | "WS_ERR_UNEXPECTED_MASK"
  // ---- messages and closes ----
  /** A message over `maxMessageSize`, before or after inflating (1009). */
  | "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH"
  /** A message in more than `maxFragments` frames (1009). */
  | "WS_ERR_TOO_MANY_FRAGMENTS"
  /** Invalid UTF-8 in a text message or a close reason (1007). */
  | "WS_ERR_INVALID_UTF8"
  /** A close code that may not appear on the wire. */
  | "WS_ERR_INVALID_CLOSE_CODE"
  /** permessage-deflate data that does not inflate (1007). */
  | "WS_ERR_INVALID_COMPRESSED_DATA"
  /** A protocol violation a throw site gave no finer id (1002). */
  | "WS_ERR_PROTOCOL"
  // ---- opening handshake (close code 1006; `status` when one applies) ----
  /** The request or response head is over the header limits (431). */
  | "WS_ERR_HEADERS_TOO_LARGE"
  /** A malformed HTTP head (400). */
  | "WS_ERR_INVALID_HTTP"
  /** A request method other than GET (405). */
  | "WS_ERR_INVALID_METHOD"
  /** A request that cannot upgrade: version, target, Host, body (400). */
  | "WS_ERR_INVALID_REQUEST"
  /** A missing or wrong `Upgrade` header (426 in a request). */
  | "WS_ERR_INVALID_UPGRADE_HEADER"
  /** A `Connection` header without `upgrade` (400 in a request). */
  | "WS_ERR_INVALID_CONNECTION_HEADER"
  /** A missing or unsupported `Sec-WebSocket-Version` (426). */
  | "WS_ERR_UNSUPPORTED_VERSION"
  /** A missing, duplicate or malformed `Sec-WebSocket-Key` (400). */
  | "WS_ERR_INVALID_KEY"
  /** A response status other than 101, or not HTTP/1.1 (`status`: its status). */
  | "WS_ERR_UNEXPECTED_STATUS"
  /** A missing or wrong `Sec-WebSocket-Accept`. */
  | "WS_ERR_INVALID_ACCEPT"
  /** The server selected a subprotocol that was not offered. */
  | "WS_ERR_INVALID_SUBPROTOCOL"
  /** The server's `Sec-WebSocket-Extensions` does not fit the offer. */
  | "WS_ERR_INVALID_EXTENSION"
  /** Too many bytes before the handshake ended (1008, or 400 while deciding). */
  | "WS_ERR_EARLY_DATA_LIMIT"
  // ---- local failures (not the peer's fault) ----
  /** A bug in wskit or an extension: the `error` event's `cause` (1011). */
  | "WS_ERR_INTERNAL"
  /** Application code (a listener, a hook) threw and the socket failed (1011). */
  | "WS_ERR_APPLICATION"
  /** The embedder failed the connection (`fail()`): a limit or policy. */
  | "WS_ERR_FAILED"
  /** The embedder aborted the connection (`abort()`, close while connecting). */
  | "WS_ERR_ABORTED"
  /** The opening handshake did not finish in time (1006). */
  | "WS_ERR_HANDSHAKE_TIMEOUT"
  /** The peer did not answer a close frame in time (1006). */
  | "WS_ERR_CLOSE_TIMEOUT"
  /** The transport closed during the opening handshake (1006). */
  | "WS_ERR_CONNECTION_CLOSED"
  // ---- socket limits (1008) ----
  /** The peer sent more messages or bytes per window than `rateLimit` allows. */
  | "WS_ERR_RATE_LIMIT"
  /** The peer sent more pings per window than `rateLimit.pings` allows. */
  | "WS_ERR_PING_RATE_LIMIT"
  /** More than `maxQueuedBytes` wait for a peer that does not read. */
  | "WS_ERR_QUEUE_FULL"
  /** Reading stayed paused past `backpressureTimeout`: the peer does not read. */
  | "WS_ERR_BACKPRESSURE_TIMEOUT";

/**
 * Every {@linkcode ErrorId} with a short description (frozen), e.g. to
 * list or log them.
 */
export const ERROR_IDS: Readonly<Record<ErrorId, string>> = Object.freeze({
  // ---- frames (close code 1002 unless said) ----
  WS_ERR_UNEXPECTED_RSV_1: "RSV1 set without an extension that uses it",
  WS_ERR_UNEXPECTED_RSV_2_3: "RSV2 or RSV3 set without an extension",
  WS_ERR_INVALID_OPCODE: "reserved or out-of-order opcode",
  WS_ERR_EXPECTED_FIN: "control frame without FIN",
  WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH: "control frame payload length",
  WS_ERR_INVALID_PAYLOAD_LENGTH: "64-bit length with the top bit set",
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: "frame length over 2^53 - 1",
  WS_ERR_EXPECTED_MASK: "unmasked frame from a client",
  WS_ERR_UNEXPECTED_MASK: "masked frame from a server",
  // ---- messages and closes ----
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: "message too big",
  WS_ERR_TOO_MANY_FRAGMENTS: "message in too many frames",
  WS_ERR_INVALID_UTF8: "invalid UTF-8",
  WS_ERR_INVALID_CLOSE_CODE: "invalid close code",
  WS_ERR_INVALID_COMPRESSED_DATA: "invalid compressed data",
  WS_ERR_PROTOCOL: "protocol violation",
  // ---- opening handshake (close code 1006; `status` when one applies) ----
  WS_ERR_HEADERS_TOO_LARGE: "message head too large",
  WS_ERR_INVALID_HTTP: "malformed HTTP head",
  WS_ERR_INVALID_METHOD: "method not GET",
  WS_ERR_INVALID_REQUEST: "request cannot upgrade",
  WS_ERR_INVALID_UPGRADE_HEADER: "Upgrade header",
  WS_ERR_INVALID_CONNECTION_HEADER: "Connection header",
  WS_ERR_UNSUPPORTED_VERSION: "Sec-WebSocket-Version",
  WS_ERR_INVALID_KEY: "Sec-WebSocket-Key",
  WS_ERR_UNEXPECTED_STATUS: "response status not 101",
  WS_ERR_INVALID_ACCEPT: "Sec-WebSocket-Accept",
  WS_ERR_INVALID_SUBPROTOCOL: "subprotocol not offered",
  WS_ERR_INVALID_EXTENSION: "extension response",
  WS_ERR_EARLY_DATA_LIMIT: "too much data before the handshake ended",
  // ---- local failures (not the peer's fault) ----
  WS_ERR_INTERNAL: "internal error",
  WS_ERR_APPLICATION: "application code threw",
  WS_ERR_FAILED: "failed by the embedder",
  WS_ERR_ABORTED: "aborted",
  WS_ERR_HANDSHAKE_TIMEOUT: "opening handshake timed out",
  WS_ERR_CLOSE_TIMEOUT: "close handshake timed out",
  WS_ERR_CONNECTION_CLOSED: "transport closed during the handshake",
  WS_ERR_RATE_LIMIT: "message or byte rate limit exceeded",
  WS_ERR_PING_RATE_LIMIT: "ping rate limit exceeded",
  WS_ERR_QUEUE_FULL: "send queue over its limit",
  WS_ERR_BACKPRESSURE_TIMEOUT: "peer did not read for too long",
});

/** What a {@linkcode LocalError} says the caller got wrong. */
export type LocalErrorKind =
  /** A value out of range or not allowed here (a browser: InvalidAccessError or TypeError). */
  | "argument"
  /** A string that does not parse or is too long: URL, token, header, close reason (SyntaxError). */
  | "syntax"
  /** The call is not allowed in the object's current state (InvalidStateError). */
  | "state";

/**
 * The local program misused wskit: thrown to the caller, never sent to the
 * peer. The socket layer maps `kind` to the `DOMException` a browser
 * throws.
 */
export class LocalError extends Error {
  /** What was wrong: an argument, its syntax, or the state. */
  readonly kind: LocalErrorKind;

  /** Creates an error of `kind` saying `message`. */
  constructor(kind: LocalErrorKind, message: string) {
    super(message);
    this.name = "LocalError";
    this.kind = kind;
  }
}

/** Options of a {@linkcode PeerError}. */
export interface PeerErrorOptions {
  /** The HTTP status a handshake failure answers (server) or met (client). */
  status?: number;
  /** What caused it (e.g. a codec's exception). */
  cause?: unknown;
}

/**
 * The peer broke the protocol (or a limit): the connection fails with
 * `code` (1006 when the handshake failed and no close frame can be sent),
 * answering `status` during a server's handshake; `id` says which rule.
 */
export class PeerError extends Error {
  /** The close code the connection fails with. */
  readonly code: number;
  /** Which rule was broken. */
  readonly id: ErrorId;
  /** The HTTP status of a handshake failure, when there is one. */
  readonly status?: number;

  /** Creates an error failing the connection with `code`, tagged `id`. */
  constructor(
    code: number,
    message: string,
    id: ErrorId,
    options: PeerErrorOptions = {},
  ) {
    super(
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "PeerError";
    this.code = code;
    this.id = id;
    if (options.status !== undefined) this.status = options.status;
  }
}

/**
 * A {@linkcode PeerError} in received frames or messages (the frame and
 * message layers throw it). `new ProtocolError(code, message)` still
 * works: without an id, it is the generic one for its code.
 */
export class ProtocolError extends PeerError {
  /** Creates an error that fails the connection with `code`. */
  constructor(code: number, message: string, id: ErrorId = defaultId(code)) {
    super(code, message, id);
    this.name = "ProtocolError";
  }
}

/**
 * The id of a close code when a throw site gives none: in core, 1007 is
 * only ever bad UTF-8, 1008 the early-data limit, 1009 a size limit; any
 * other code gets the generic `WS_ERR_PROTOCOL`.
 */
function defaultId(code: number): ErrorId {
  if (code === 1007) return "WS_ERR_INVALID_UTF8";
  if (code === 1008) return "WS_ERR_EARLY_DATA_LIMIT";
  if (code === 1009) return "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH";
  return "WS_ERR_PROTOCOL";
}

/** The id for reserved bits `rsv` (RSV1 = 4, RSV2 = 2, RSV3 = 1) set unasked. */
export function rsvErrorId(rsv: number): ErrorId {
  return (rsv & 0x3) !== 0
    ? "WS_ERR_UNEXPECTED_RSV_2_3"
    : "WS_ERR_UNEXPECTED_RSV_1";
}

/** The message of a thrown value (its `message`, or the value as a string). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
