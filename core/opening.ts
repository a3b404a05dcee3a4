/**
 * The opening handshake (RFC 6455 §4), one object per role, sans-IO. Each
 * parses the peer's HTTP head and, once the upgrade succeeds, produces an
 * {@linkcode Opened}: what the connection opens with, including the bytes
 * that followed the head (frames the peer sent without waiting).
 * `Connection` owns one of these while `CONNECTING` and drops it on open.
 *
 * A failure the peer caused is returned as a {@linkcode HandshakeFailure}
 * (its message and HTTP status), not thrown; local misuse throws.
 *
 * @module
 */

import {
  type ErrorId,
  errorMessage,
  LocalError,
  PeerError,
  ProtocolError,
} from "./errors.ts";
import {
  acceptExtensions,
  type Extension,
  type ExtensionNegotiator,
  negotiateExtensions,
} from "./extension.ts";
import {
  type AcceptOptions,
  buildAcceptResponse,
  buildClientRequest,
  buildRejectResponse,
  type ClientRequest,
  type ClientRequestOptions,
  type RejectOptions,
  type UpgradeRequest,
  validateServerResponse,
  validateUpgradeRequest,
} from "./handshake.ts";
import {
  type HeaderMap,
  HttpError,
  HttpHeadParser,
  type HttpLimits,
  type HttpRequestHead,
  type HttpResponseHead,
} from "./http.ts";

/** What a successful opening handshake hands to the connection. */
export interface Opened {
  /** The negotiated subprotocol ("" for none). */
  protocol: string;
  /** The negotiated extensions header value ("" for none). */
  extensions: string;
  /** The negotiated extension instances, in negotiation order. */
  activeExtensions: readonly Extension[];
  /** Client role: the server's response headers. */
  headers: HeaderMap | undefined;
  /** Bytes that followed the head: frames, to decode in order. */
  rest: readonly Uint8Array[];
}

/** A handshake the peer got wrong: why, and the HTTP status it earns. */
export interface HandshakeFailure {
  /** Marks the failure apart from a result. */
  failed: true;
  /** What was wrong. */
  message: string;
  /** The HTTP status (server: answered with; client: the response's). */
  status: number;
  /** Which rule was broken (`WS_ERR_INTERNAL`: a bug, see `cause`). */
  id: ErrorId;
  /** The exception behind a `WS_ERR_INTERNAL` failure. */
  cause?: unknown;
}

/** What a server's request bytes led to: `undefined` while incomplete. */
export type UpgradeResult = UpgradeRequest | HandshakeFailure | undefined;

const NO_BYTES: readonly Uint8Array[] = Object.freeze([]);

function failure(
  message: string,
  status: number,
  id: ErrorId,
  cause?: unknown,
): HandshakeFailure {
  return cause === undefined
    ? { failed: true, message, status, id }
    : { failed: true, message, status, id, cause };
}

/** Parses a chunk with `parser`; an `HttpError` becomes a failure. */
function parse<T extends HttpRequestHead | HttpResponseHead>(
  parser: HttpHeadParser<T>,
  chunk: Uint8Array,
): { head: T; rest: Uint8Array } | HandshakeFailure | undefined {
  let result;
  try {
    result = parser.push(chunk);
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    return failure(error.message, error.status, error.id);
  }
  return result.done ? result : undefined;
}

/** Options for {@linkcode ClientOpening}. */
export interface ClientOpeningOptions extends ClientRequestOptions {
  /** Limits on the response head. */
  httpLimits?: Partial<HttpLimits>;
  /** Extensions to offer, in this order. */
  extensionNegotiators?: readonly ExtensionNegotiator[];
}

/** The client's side: the upgrade request, then the server's response. */
export class ClientOpening {
  /** The upgrade request to write first. */
  readonly request: ClientRequest;
  readonly #negotiators: readonly ExtensionNegotiator[];
  #parser: HttpHeadParser<HttpResponseHead> | undefined;

  /** Builds the request for `url`; throws `HandshakeError` for bad options. */
  constructor(url: string | URL, options: ClientOpeningOptions) {
    this.#negotiators = options.extensionNegotiators ?? [];
    const offers = this.#negotiators.map((n) => n.offer());
    if (options.extensions !== undefined) offers.unshift(options.extensions);
    this.request = buildClientRequest(url, {
      ...options,
      extensions: offers.length === 0 ? undefined : offers.join(", "),
    });
    this.#parser = HttpHeadParser.response(options.httpLimits);
  }

  /** Feeds response bytes: undefined until the head is complete. */
  receive(chunk: Uint8Array): Opened | HandshakeFailure | undefined {
    const parser = this.#parser;
    if (parser === undefined) {
      throw new LocalError("state", "the handshake is over");
    }
    const result = parse(parser, chunk);
    if (result === undefined) return undefined;
    this.#parser = undefined;
    if ("failed" in result) return result;
    const head = result.head;
    try {
      const negotiated = validateServerResponse(head, this.request);
      return {
        protocol: negotiated.protocol,
        extensions: negotiated.extensions,
        activeExtensions: acceptExtensions(
          negotiated.extensions,
          this.#negotiators,
        ),
        headers: head.headers,
        rest: result.rest.length > 0 ? [result.rest] : NO_BYTES,
      };
    } catch (error) {
      // A peer's bad response; anything else is a bug in wskit or an
      // extension's negotiator, kept as the cause.
      return error instanceof PeerError
        ? failure(error.message, head.status, error.id)
        : failure(errorMessage(error), head.status, "WS_ERR_INTERNAL", error);
    }
  }
}

/** Options for {@linkcode ServerOpening}. */
export interface ServerOpeningOptions {
  /** Limits on the request head (defaults 16 KiB, 100 headers). */
  httpLimits?: Partial<HttpLimits>;
  /** Extensions to accept, in this order of preference. */
  extensionNegotiators?: readonly ExtensionNegotiator[];
}

/**
 * The server's side: parses the request head, keeps the bytes that arrive
 * before the application decides, and builds the accept or reject response.
 * Only the head counts toward `maxHeaderBytes`: bytes after it in the chunk
 * that ended it are kept whole; bytes in later chunks may add up to
 * `maxHeaderBytes` more.
 */
export class ServerOpening {
  readonly #negotiators: readonly ExtensionNegotiator[];
  readonly #maxEarlyBytes: number;
  #parser: HttpHeadParser<HttpRequestHead> | undefined;
  #request: UpgradeRequest | undefined;
  #early: Uint8Array[] | undefined;
  #earlyBytes = 0;

  /** Creates the server side, waiting for the request head. */
  constructor(options: ServerOpeningOptions) {
    this.#negotiators = options.extensionNegotiators ?? [];
    this.#parser = HttpHeadParser.request(options.httpLimits);
    this.#maxEarlyBytes = options.httpLimits?.maxHeaderBytes ?? 16384;
  }

  /** Whether the request head has yet to arrive. */
  get awaitingHead(): boolean {
    return this.#parser !== undefined;
  }

  /** The valid request awaiting a decision, if any. */
  get request(): UpgradeRequest | undefined {
    return this.#request;
  }

  /**
   * Feeds request bytes: the valid request once the head is complete (then
   * bytes are held for `accept()`). Throws `ProtocolError` (1008) for too
   * much data before the decision.
   */
  receive(chunk: Uint8Array): UpgradeResult {
    const parser = this.#parser;
    if (parser === undefined) {
      this.#earlyBytes += chunk.length;
      if (this.#earlyBytes > this.#maxEarlyBytes) {
        throw new ProtocolError(
          1008,
          "too much data before the handshake ended",
          "WS_ERR_EARLY_DATA_LIMIT",
        );
      }
      (this.#early ??= []).push(chunk);
      return undefined;
    }
    const result = parse(parser, chunk);
    if (result === undefined) return undefined;
    this.#parser = undefined;
    if ("failed" in result) return result;
    return this.receiveHead(result.head, result.rest);
  }

  /** Takes a head another HTTP server parsed, and the bytes after it. */
  receiveHead(
    head: HttpRequestHead,
    rest: Uint8Array,
  ): UpgradeRequest | HandshakeFailure {
    this.#parser = undefined;
    let request;
    try {
      request = validateUpgradeRequest(head);
    } catch (error) {
      if (!(error instanceof PeerError)) throw error;
      return failure(error.message, error.status ?? 400, error.id);
    }
    this.#request = request;
    // The bytes after the head in the chunk that ended it are frames (a
    // pipelined first message), already in memory as a view of that chunk:
    // they are kept whole, not counted, so the answer does not depend on how
    // the peer's bytes were split into reads.
    if (rest.length > 0) (this.#early ??= []).push(rest);
    return request;
  }

  /**
   * Accepts the pending request: the 101 response and what to open with.
   * Throws if no request is pending or the options are invalid.
   */
  accept(options: AcceptOptions): { response: Uint8Array; opened: Opened } {
    const request = this.#pending();
    let extensions = options.extensions;
    let active: readonly Extension[] = [];
    if (extensions === undefined && this.#negotiators.length > 0) {
      active = negotiateExtensions(request.extensions, this.#negotiators);
      extensions = active.map((e) => e.response).join(", ") || undefined;
    }
    const response = buildAcceptResponse(request, { ...options, extensions });
    const rest = this.#early ?? NO_BYTES;
    this.#request = undefined;
    this.#early = undefined;
    return {
      response,
      opened: {
        protocol: options.protocol ?? "",
        extensions: extensions ?? "",
        activeExtensions: active,
        headers: undefined,
        rest,
      },
    };
  }

  /** Rejects the pending request: the response to write. */
  reject(status: number, options: RejectOptions): Uint8Array {
    this.#pending();
    const response = buildRejectResponse(status, options);
    this.#request = undefined;
    this.#early = undefined;
    return response;
  }

  #pending(): UpgradeRequest {
    if (this.#request === undefined) {
      throw new LocalError(
        "state",
        "no upgrade request is waiting for a decision",
      );
    }
    return this.#request;
  }
}

/** The response answering a bad request with `failure.status`. */
export function failureResponse(failure: HandshakeFailure): Uint8Array {
  return buildRejectResponse(failure.status, { body: failure.message });
}
