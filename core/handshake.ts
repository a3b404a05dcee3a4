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

export {
  type AcceptOptions,
  type ClientRequest,
  type ClientRequestOptions,
  computeAccept,
  generateKey,
  HandshakeError,
  type HeaderInit,
  parseProtocolList,
  type RejectOptions,
  type ServerResponseResult,
  type UpgradeRequest,
  WEBSOCKET_GUID,
} from "./handshake_common.ts";
export {
  buildClientRequest,
  validateServerResponse,
} from "./handshake_client.ts";
export {
  buildAcceptResponse,
  buildRejectResponse,
  requestTargetPath,
  requestUrl,
  validateUpgradeRequest,
} from "./handshake_server.ts";
