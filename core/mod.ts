/**
 * The sans-IO core of wskit: RFC 6455 handshake, frames, messages and the
 * connection state machine, with no I/O, no timers and no runtime globals.
 * Embed it in any transport: feed it bytes, write what it returns.
 *
 * @example
 * ```ts
 * import { Connection } from "./mod.ts";
 *
 * // A client and a server wired together in memory.
 * const client = Connection.client("ws://example.test/chat");
 * const server = Connection.server();
 * for (const chunk of client.takeOutput()) {
 *   for (const event of server.receive(chunk)) {
 *     if (event.type === "request") server.accept();
 *   }
 * }
 * for (const chunk of server.takeOutput()) client.receive(chunk); // "open"
 * client.send("hello");
 * for (const chunk of client.takeOutput()) {
 *   for (const event of server.receive(chunk)) {
 *     if (event.type === "message") console.log(event.data); // "hello"
 *   }
 * }
 * ```
 *
 * @module
 */

export {
  CloseCode,
  closeCodeName,
  isApplicationCloseCode,
  isValidWireCloseCode,
} from "./close.ts";
export {
  type ClientConnectionOptions,
  Connection,
  type ConnectionEvent,
  type ConnectionOptions,
  type ConnectionTimer,
  type OpenConnectionOptions,
  ReadyState,
  type ReadyStateValue,
  type SendOptions,
  type ServerConnectionOptions,
} from "./connection.ts";
export {
  FrameDecoder,
  type FrameDecoderOptions,
  type FrameSink,
} from "./decoder.ts";
export { encodeFrame, type EncodeOptions, frameHeaderSize } from "./encoder.ts";
export {
  type DecodeOutcome,
  type DeferredDecode,
  type Extension,
  type ExtensionNegotiator,
  type ExtensionParams,
  formatExtension,
  parseExtensions,
} from "./extension.ts";
export {
  ERROR_IDS,
  type ErrorId,
  LocalError,
  type LocalErrorKind,
  PeerError,
  type PeerErrorOptions,
  ProtocolError,
} from "./errors.ts";
export {
  type FrameHeader,
  isControlOpcode,
  Opcode,
  RSV1,
  RSV2,
  RSV3,
} from "./frame.ts";
export {
  type AcceptOptions,
  buildAcceptResponse,
  buildClientRequest,
  buildRejectResponse,
  type ClientRequest,
  type ClientRequestOptions,
  computeAccept,
  generateKey,
  HandshakeError,
  type HeaderInit,
  parseProtocolList,
  type RejectOptions,
  requestTargetPath,
  requestUrl,
  type ServerResponseResult,
  type UpgradeRequest,
  validateServerResponse,
  validateUpgradeRequest,
  WEBSOCKET_GUID,
} from "./handshake.ts";
export {
  DEFAULT_HTTP_LIMITS,
  HeaderMap,
  type HostParts,
  HttpError,
  HttpHeadParser,
  type HttpLimits,
  type HttpParseResult,
  type HttpRequestHead,
  type HttpResponseHead,
  parseHost,
} from "./http.ts";
export { applyMask, maskInto } from "./mask.ts";
export { PreparedMessage } from "./prepared.ts";
export { DEFAULT_MESSAGE_LIMITS, type MessageLimits } from "./message.ts";
export {
  type DeflateCodec,
  type DeflateOptions,
  type DeflateParams,
  type InflateOptions,
  parseDeflateParams,
  PERMESSAGE_DEFLATE,
  permessageDeflate,
  type PerMessageDeflateConfig,
  type PerMessageDeflateOptions,
} from "./permessage_deflate.ts";
export {
  buildConnectRequest,
  bypassesProxy,
  ConnectClient,
  type ConnectStep,
  parseProxy,
  type ProxyConfig,
  proxyFromEnv,
} from "./proxy.ts";
export {
  SOCKS5_REPLIES,
  Socks5Client,
  type Socks5Options,
  type Socks5Step,
} from "./socks.ts";
export { isValidUtf8, Utf8Validator } from "./utf8.ts";
