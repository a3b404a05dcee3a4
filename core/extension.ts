/**
 * The extension interface (RFC 6455 §9): how an extension is negotiated in
 * the `Sec-WebSocket-Extensions` header, which reserved bits it owns, and
 * how it transforms whole messages on send and receive. permessage-deflate
 * implements it; so can any other extension.
 *
 * @module
 */

import { errorMessage, PeerError } from "./errors.ts";
import { isToken } from "./http.ts";

/** One extension in a `Sec-WebSocket-Extensions` header: name and params. */
export interface ExtensionParams {
  /** The extension token, e.g. `"permessage-deflate"`. */
  name: string;
  /** Parameters in order; a valueless parameter has the value `true`. */
  params: [string, string | true][];
}

/** A negotiated extension, one instance per connection. */
export interface Extension {
  /** The extension token. */
  readonly name: string;
  /** The reserved bits it may set (RSV1 is 0b100). */
  readonly rsv: number;
  /** The `Sec-WebSocket-Extensions` element that describes it. */
  readonly response: string;
  /**
   * Transforms an outgoing data message; returns the payload to frame and
   * the reserved bits to set on its first frame (0 to send it unchanged).
   */
  encode(
    payload: Uint8Array,
    opcode: number,
  ): { payload: Uint8Array; rsv: number };
  /**
   * Transforms an incoming data message whose first frame carried `rsv`
   * (only bits this extension owns). The result may not exceed `maxSize`
   * bytes: throw `ProtocolError(1009)` instead of producing more.
   */
  decode(payload: Uint8Array, rsv: number, maxSize: number): Uint8Array;
  /**
   * Optional: like `decode`, but where that would be long work (a large
   * message) returns a {@linkcode DeferredDecode} instead, for the embedder
   * to run off the event loop. Called in place of `decode` only on
   * connections whose embedder handles `suspend` events (the `suspendable`
   * connection option).
   */
  decodeOrDefer?(
    payload: Uint8Array,
    rsv: number,
    maxSize: number,
  ): Uint8Array | DeferredDecode;
  /** Releases any state; the connection is closed. */
  dispose(): void;
  /**
   * Optional, for sending one encoding of a message on many connections
   * (a publish to a topic): connections whose extension has the same
   * `shareKey` accept the same {@linkcode Extension.encodeShared} output.
   * Undefined: this connection encodes each message itself.
   */
  readonly shareKey?: string;
  /**
   * Encodes a message without using or changing this connection's state,
   * so the result is valid on every connection with the same `shareKey`.
   */
  encodeShared?(
    payload: Uint8Array,
    opcode: number,
  ): { payload: Uint8Array; rsv: number };
  /**
   * This connection sent `payload` as `encodeShared` encoded it (first
   * frame's reserved bits `rsv`): bring its state up to date (e.g. a
   * compressor's history), as if `encode` had run.
   */
  sentShared?(payload: Uint8Array, rsv: number): void;
}

/**
 * What a {@linkcode DeferredDecode} produced, to hand back unchanged to
 * `Connection.resume()`: the output (undefined: it would have exceeded the
 * size limit), or the error the work failed with.
 */
export type DecodeOutcome =
  | { readonly output: Uint8Array | undefined }
  | { readonly error: unknown };

/**
 * The decoding of one received message, put off so that it can run off the
 * event loop (a `Connection` reports it in a `suspend` event). The core does
 * no I/O: the embedder starts the work with `run()` and, when `done` is
 * called, passes the outcome to `Connection.resume()`, which calls `finish()`.
 */
export interface DeferredDecode {
  /**
   * Starts the work. Calls `done` exactly once, asynchronously (never from
   * inside `run`), with the outcome.
   */
  run(done: (outcome: DecodeOutcome) => void): void;
  /**
   * The decoded payload for `outcome`, with the extension's state updated
   * as `decode` would have; throws `ProtocolError` where `decode` would
   * (1009 over the size limit, 1007 for corrupt data).
   */
  finish(outcome: DecodeOutcome): Uint8Array;
}

/** The negotiation side of an extension. */
export interface ExtensionNegotiator {
  /** The extension token it negotiates. */
  readonly name: string;
  /** Client: the offer to send (one or more comma-separated elements). */
  offer(): string;
  /**
   * Client: the server accepted with `params`. Returns the instance, or
   * throws an `Error` saying why the response is invalid (the handshake
   * then fails, id `WS_ERR_INVALID_EXTENSION`; a `PeerError` keeps its own).
   */
  accept(params: ExtensionParams): Extension;
  /**
   * Server: the client's offers for this extension, in its order of
   * preference. Returns the accepted instance (its `response` goes in the
   * 101), or undefined to decline all of them. Invalid offers are declined,
   * not fatal.
   */
  respond(offers: ExtensionParams[]): Extension | undefined;
}

/**
 * Parses a `Sec-WebSocket-Extensions` value into elements. Returns
 * undefined if it is malformed (RFC 6455 §9.1 grammar; values may be tokens
 * or quoted strings whose content must be a token).
 */
export function parseExtensions(value: string): ExtensionParams[] | undefined {
  const result: ExtensionParams[] = [];
  for (const element of splitOutsideQuotes(value, ",")) {
    if (element.trim() === "") continue;
    const parts = splitOutsideQuotes(element, ";").map((p) => p.trim());
    const name = parts[0];
    if (!isToken(name)) return undefined;
    const params: [string, string | true][] = [];
    for (const part of parts.slice(1)) {
      const eq = part.indexOf("=");
      if (eq === -1) {
        if (!isToken(part)) return undefined;
        params.push([part.toLowerCase(), true]);
        continue;
      }
      const key = part.slice(0, eq).trim();
      let raw = part.slice(eq + 1).trim();
      if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) {
        raw = raw.slice(1, -1).replace(/\\(.)/g, "$1");
      }
      if (!isToken(key) || !isToken(raw)) return undefined;
      params.push([key.toLowerCase(), raw]);
    }
    result.push({ name: name.toLowerCase(), params });
  }
  return result;
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (c === "\\" && quoted) i++;
    else if (c === separator && !quoted) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

/** Serializes one element: `name; a; b=1`. */
export function formatExtension(element: ExtensionParams): string {
  return [
    element.name,
    ...element.params.map(([k, v]) => (v === true ? k : `${k}=${v}`)),
  ].join("; ");
}

/**
 * Server side: picks extensions for a request's offer header, in the
 * server's order of negotiators. Returns the instances (response built from
 * their `response`). A malformed header declines every extension.
 */
export function negotiateExtensions(
  offer: string | undefined,
  negotiators: readonly ExtensionNegotiator[],
): Extension[] {
  if (offer === undefined || negotiators.length === 0) return [];
  const elements = parseExtensions(offer);
  if (elements === undefined) return [];
  const accepted: Extension[] = [];
  let used = 0;
  for (const negotiator of negotiators) {
    const offers = elements.filter((e) => e.name === negotiator.name);
    if (offers.length === 0) continue;
    const extension = negotiator.respond(offers);
    if (extension === undefined || (extension.rsv & used) !== 0) continue;
    used |= extension.rsv;
    accepted.push(extension);
  }
  return accepted;
}

/** A fault in the server's extensions response (the handshake fails). */
function badResponse(message: string, cause?: unknown): PeerError {
  return new PeerError(1006, message, "WS_ERR_INVALID_EXTENSION", { cause });
}

/**
 * Client side: checks the server's response header against what was
 * offered and returns the instances. Throws a `PeerError`
 * (`WS_ERR_INVALID_EXTENSION`) for an extension not offered, one accepted
 * twice, invalid parameters (what a negotiator's `accept` throws) or
 * clashing RSV bits.
 */
export function acceptExtensions(
  response: string,
  negotiators: readonly ExtensionNegotiator[],
): Extension[] {
  if (response.trim() === "") return [];
  const elements = parseExtensions(response);
  if (elements === undefined) {
    throw badResponse("malformed Sec-WebSocket-Extensions in the response");
  }
  const accepted: Extension[] = [];
  let used = 0;
  for (const element of elements) {
    const negotiator = negotiators.find((n) => n.name === element.name);
    if (negotiator === undefined) {
      throw badResponse(
        `server accepted extension "${element.name}" that was not offered`,
      );
    }
    if (accepted.some((e) => e.name === element.name)) {
      throw badResponse(`server accepted extension "${element.name}" twice`);
    }
    let extension: Extension;
    try {
      extension = negotiator.accept(element);
    } catch (error) {
      if (error instanceof PeerError) throw error;
      throw badResponse(
        errorMessage(error),
        error,
      );
    }
    if ((extension.rsv & used) !== 0) {
      throw badResponse(
        "extensions in the response claim the same reserved bits",
      );
    }
    used |= extension.rsv;
    accepted.push(extension);
  }
  return accepted;
}
