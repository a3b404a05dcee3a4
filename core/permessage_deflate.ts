/**
 * permessage-deflate (RFC 7692): the negotiation (all four parameters,
 * several offers, graceful declines, strict checking of a response) and the
 * per-message framing (RSV1, the `00 00 ff ff` tail, context takeover, size
 * threshold, bounded decompression), over a DEFLATE codec that is passed in.
 *
 * The core does no I/O and has no compression code of its own: the
 * {@linkcode DeflateCodec} is a small synchronous interface (wskit's
 * `adapters/deflate.ts` implements it over `node:zlib`). Its calls are
 * one-shot — there is no zlib stream kept per connection. Context takeover
 * is carried by the bytes themselves instead: each side keeps the last
 * 2^windowBits bytes of plaintext it sent (and received) and hands them to
 * the codec as a preset dictionary for the next message. Every message ends
 * on a sync-flush block boundary, so inflating with the previous messages as
 * dictionary decodes exactly what a continued stream would; on the sending
 * side, priming the compressor with the most recent history only ever
 * produces back-references the peer's window still holds. The state is
 * plain bytes, grown only as traffic needs it and dropped in `dispose()`.
 *
 * Choices worth knowing:
 * - Messages under `threshold` bytes (default 1024), and messages that
 *   would not get smaller, are sent uncompressed (RSV1 clear), which RFC
 *   7692 always allows; neither side's window then changes.
 * - An 8-bit window for our compressor: zlib cannot compress within a
 *   256-byte window (asked for 8 it silently uses 9), so when the peer
 *   limits our window to 8 bits (or the codec's `minWindowBits` is higher
 *   than the negotiated value) every message is sent uncompressed.
 *   Decompression works with any window from 8 to 15.
 * - Decompression is bounded: the codec stops at `maxMessageSize` bytes of
 *   output and the connection fails with 1009; corrupt data fails it with
 *   1007.
 * - Large messages need not be decompressed on the event loop: when the
 *   codec has `inflateLater` and the connection is `suspendable`, a message
 *   is first inflated here with an output budget (`maxSyncInflate`, 256 KiB
 *   by default); one that needs more (or whose compressed payload is
 *   already larger) is handed to the embedder as a `DeferredDecode` that
 *   runs `inflateLater` with the same input, window and dictionary, so the
 *   result is the same either way.
 *
 * @example
 * ```ts
 * import { Connection } from "./connection.ts";
 * import { type DeflateCodec, permessageDeflate } from "./permessage_deflate.ts";
 *
 * declare const codec: DeflateCodec; // e.g. `zlibCodec` from adapters/deflate.ts
 * const server = Connection.server({
 *   extensionNegotiators: [permessageDeflate({ codec })],
 * });
 * ```
 *
 * @module
 */

import { PeerError } from "./errors.ts";
import {
  type Extension,
  type ExtensionNegotiator,
  type ExtensionParams,
  formatExtension,
} from "./extension.ts";
import {
  type DeflateCodec,
  MAX_BITS,
  PERMESSAGE_DEFLATE,
  PerMessageDeflate,
  type Setup,
} from "./permessage_deflate_codec.ts";

export {
  type DeflateCodec,
  type DeflateOptions,
  type InflateOptions,
  PERMESSAGE_DEFLATE,
} from "./permessage_deflate_codec.ts";

const MAX_SYNC_INFLATE = 256 * 1024;

/** How permessage-deflate is negotiated and used. All optional. */
export interface PerMessageDeflateOptions {
  /**
   * Messages shorter than this many bytes are sent uncompressed. Default
   * 1024 (compressing tiny messages costs more time than it saves bytes).
   */
  threshold?: number;
  /** Compression level, 0 (store) to 9 (smallest). Default 6. */
  level?: number;
  /** zlib memLevel, 1–9. Default 8. */
  memLevel?: number;
  /**
   * Server: answer every offer with `server_no_context_takeover` (each
   * message we send is compressed alone; no send window is kept). Client:
   * ask the server for that (the server must agree or decline).
   */
  serverNoContextTakeover?: boolean;
  /**
   * Server: answer with `client_no_context_takeover` (the client compresses
   * each message alone; no receive window is kept). Client: offer it and
   * compress each message alone.
   */
  clientNoContextTakeover?: boolean;
  /**
   * 8–15. Server: compress with at most this window and say so. Client:
   * offer `server_max_window_bits` (the server must use at most this
   * window, or decline).
   */
  serverMaxWindowBits?: number;
  /**
   * 8–15. Server: answer `client_max_window_bits` with this value, declining
   * offers that do not allow it. Client: offer `client_max_window_bits`
   * with this value and compress with at most this window. Unset, the
   * client offers the parameter with no value (the server may choose);
   * `false`: the client does not offer it at all (for servers that
   * mishandle it). For a server, `false` is the same as unset.
   */
  clientMaxWindowBits?: number | false;
  /**
   * With context takeover: at most how many bytes of earlier messages prime
   * the compressor for the next one (capped by the window). The codec's
   * cost grows with it; by default 4 × the message's size, at least 4 KiB,
   * which keeps most of the gain for small messages at a fraction of the
   * time. Set 32768 for the best ratio. Has no effect on decompression,
   * which always uses the whole window the peer may refer to.
   */
  contextBytes?: number;
  /**
   * When the codec can inflate off the event loop (`inflateLater`) and the
   * connection is suspendable: the most bytes a received message is
   * inflated to synchronously. A message that needs more is inflated again,
   * whole, off the loop (the connection reads nothing more meanwhile).
   * Default 262144 (256 KiB); `Infinity` inflates everything synchronously.
   */
  maxSyncInflate?: number;
}

/** Options for {@linkcode permessageDeflate}: the options plus the codec. */
export interface PerMessageDeflateConfig extends PerMessageDeflateOptions {
  /** The compression codec (e.g. `zlibCodec` from `adapters/deflate.ts`). */
  codec: DeflateCodec;
}

/** The parameters of one offer or response element, validated. */
export interface DeflateParams {
  /** `server_no_context_takeover` was present. */
  serverNoContextTakeover: boolean;
  /** `client_no_context_takeover` was present. */
  clientNoContextTakeover: boolean;
  /** `server_max_window_bits`, if present. */
  serverMaxWindowBits?: number;
  /** `client_max_window_bits`, if present (`true`: no value, offers only). */
  clientMaxWindowBits?: number | true;
}

/** A window size parameter's value: 8–15 without leading zeros. */
function windowBitsValue(value: string | true): number | undefined {
  return value !== true && /^(?:[89]|1[0-5])$/.test(value)
    ? Number(value)
    : undefined;
}

/**
 * Validates the parameters of a permessage-deflate element: an offer
 * (`client_max_window_bits` may then have no value) or a response. Returns
 * the parameters, or a string saying what is wrong (unknown or duplicate
 * parameter, missing, extra or out-of-range value).
 */
export function parseDeflateParams(
  params: readonly [string, string | true][],
  kind: "offer" | "response",
): DeflateParams | string {
  const result: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
  };
  const seen = new Set<string>();
  for (const [key, value] of params) {
    if (seen.has(key)) return `duplicate parameter ${key}`;
    seen.add(key);
    switch (key) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== true) return `${key} takes no value`;
        if (key === "server_no_context_takeover") {
          result.serverNoContextTakeover = true;
        } else {
          result.clientNoContextTakeover = true;
        }
        break;
      case "server_max_window_bits":
      case "client_max_window_bits": {
        if (value === true && key === "client_max_window_bits") {
          if (kind === "response") {
            return "client_max_window_bits needs a value in a response";
          }
          result.clientMaxWindowBits = true;
          break;
        }
        const bits = windowBitsValue(value);
        if (bits === undefined) {
          return `${key} must be 8 to 15, got ${
            value === true ? "no value" : JSON.stringify(value)
          }`;
        }
        if (key === "server_max_window_bits") result.serverMaxWindowBits = bits;
        else result.clientMaxWindowBits = bits;
        break;
      }
      default:
        return `unknown parameter ${key}`;
    }
  }
  return result;
}

function checkBits(name: string, value: number | undefined): void {
  if (
    value !== undefined && !(Number.isInteger(value) && value >= 8 &&
      value <= MAX_BITS)
  ) {
    throw new RangeError(`${name} must be an integer from 8 to 15`);
  }
}

function checkRange(
  name: string,
  value: number | undefined,
  min: number,
  max: number,
): void {
  if (
    value !== undefined &&
    !(Number.isInteger(value) && value >= min && value <= max)
  ) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}`);
  }
}

/**
 * The negotiator for permessage-deflate with `codec`. Give it to a
 * `Connection` as one of its `extensionNegotiators`: a client offers it
 * (one offer, from the options), a server accepts the first acceptable of
 * the client's offers. Throws `RangeError` for invalid options.
 */
export function permessageDeflate(
  config: PerMessageDeflateConfig,
): ExtensionNegotiator {
  const { codec } = config;
  checkBits("serverMaxWindowBits", config.serverMaxWindowBits);
  const clientMaxBits = config.clientMaxWindowBits === false
    ? undefined
    : config.clientMaxWindowBits;
  checkBits("clientMaxWindowBits", clientMaxBits);
  checkRange("level", config.level, 0, 9);
  checkRange("memLevel", config.memLevel, 1, 9);
  checkRange("threshold", config.threshold, 0, Number.MAX_SAFE_INTEGER);
  checkRange("contextBytes", config.contextBytes, 0, Number.MAX_SAFE_INTEGER);
  if (config.maxSyncInflate !== Infinity) {
    checkRange(
      "maxSyncInflate",
      config.maxSyncInflate,
      0,
      Number.MAX_SAFE_INTEGER,
    );
  }
  const canPrime = codec.contextTakeover !== false;
  const minBits = codec.minWindowBits ?? 9;
  const base = {
    codec,
    threshold: config.threshold ?? 1024,
    level: config.level ?? 6,
    memLevel: config.memLevel ?? 8,
    contextBytes: config.contextBytes,
    maxSyncInflate: config.maxSyncInflate ?? MAX_SYNC_INFLATE,
  };
  /** The window we compress with: 0 when the codec cannot honour it. */
  const sendBits = (bits: number) => bits >= minBits ? bits : 0;

  const make = (
    params: [string, string | true][],
    setup: Omit<Setup, keyof typeof base>,
  ): Extension =>
    new PerMessageDeflate(
      formatExtension({ name: PERMESSAGE_DEFLATE, params }),
      { ...base, ...setup },
    );

  // What a client offers (and checks the response against).
  const offered: [string, string | true][] = [];
  const clientNoContext = config.clientNoContextTakeover === true ||
    !canPrime;
  if (config.serverNoContextTakeover) {
    offered.push(["server_no_context_takeover", true]);
  }
  if (clientNoContext) offered.push(["client_no_context_takeover", true]);
  if (config.serverMaxWindowBits !== undefined) {
    offered.push([
      "server_max_window_bits",
      String(config.serverMaxWindowBits),
    ]);
  }
  if (config.clientMaxWindowBits !== false) {
    offered.push([
      "client_max_window_bits",
      clientMaxBits === undefined ? true : String(clientMaxBits),
    ]);
  }

  return {
    name: PERMESSAGE_DEFLATE,

    offer(): string {
      return formatExtension({ name: PERMESSAGE_DEFLATE, params: offered });
    },

    accept(element: ExtensionParams): Extension {
      const response = parseDeflateParams(element.params, "response");
      if (typeof response === "string") {
        throw badResponse(`invalid permessage-deflate response: ${response}`);
      }
      if (config.serverNoContextTakeover && !response.serverNoContextTakeover) {
        throw badResponse(
          "permessage-deflate response lacks the server_no_context_takeover we asked for",
        );
      }
      let receiveBits = MAX_BITS;
      if (config.serverMaxWindowBits !== undefined) {
        if (response.serverMaxWindowBits === undefined) {
          throw badResponse(
            "permessage-deflate response lacks the server_max_window_bits we asked for",
          );
        }
        if (response.serverMaxWindowBits > config.serverMaxWindowBits) {
          throw badResponse(
            `permessage-deflate response has server_max_window_bits=${response.serverMaxWindowBits}, above the ${config.serverMaxWindowBits} we asked for`,
          );
        }
      }
      if (response.serverMaxWindowBits !== undefined) {
        receiveBits = response.serverMaxWindowBits;
      }
      let bits = clientMaxBits ?? MAX_BITS;
      if (typeof response.clientMaxWindowBits === "number") {
        if (config.clientMaxWindowBits === false) {
          throw badResponse(
            "permessage-deflate response has client_max_window_bits, which we did not offer",
          );
        }
        if (response.clientMaxWindowBits > bits) {
          throw badResponse(
            `permessage-deflate response has client_max_window_bits=${response.clientMaxWindowBits}, above the ${bits} we offered`,
          );
        }
        bits = response.clientMaxWindowBits;
      }
      const sendTakeover = canPrime && !clientNoContext &&
        !response.clientNoContextTakeover;
      return make(element.params, {
        sendBits: sendBits(bits),
        sendTakeover,
        receiveBits,
        receiveTakeover: !response.serverNoContextTakeover,
      });
    },

    respond(offers: ExtensionParams[]): Extension | undefined {
      for (const element of offers) {
        const offer = parseDeflateParams(element.params, "offer");
        if (typeof offer === "string") continue; // decline, try the next
        if (
          clientMaxBits !== undefined && clientMaxBits < MAX_BITS &&
          offer.clientMaxWindowBits === undefined
        ) {
          continue; // we cannot limit this client's window: decline
        }
        const params: [string, string | true][] = [];
        const serverNoContext = offer.serverNoContextTakeover ||
          config.serverNoContextTakeover === true || !canPrime;
        const clientNoContext = offer.clientNoContextTakeover ||
          config.clientNoContextTakeover === true;
        if (serverNoContext) params.push(["server_no_context_takeover", true]);
        if (clientNoContext) params.push(["client_no_context_takeover", true]);
        const serverBits = Math.min(
          offer.serverMaxWindowBits ?? MAX_BITS,
          config.serverMaxWindowBits ?? MAX_BITS,
        );
        if (serverBits < MAX_BITS || offer.serverMaxWindowBits !== undefined) {
          params.push(["server_max_window_bits", String(serverBits)]);
        }
        let clientBits = MAX_BITS;
        if (offer.clientMaxWindowBits !== undefined) {
          clientBits = Math.min(
            offer.clientMaxWindowBits === true
              ? MAX_BITS
              : offer.clientMaxWindowBits,
            clientMaxBits ?? MAX_BITS,
          );
          if (clientBits < MAX_BITS) {
            params.push(["client_max_window_bits", String(clientBits)]);
          }
        }
        return make(params, {
          sendBits: sendBits(serverBits),
          sendTakeover: !serverNoContext,
          receiveBits: clientBits,
          receiveTakeover: !clientNoContext,
        });
      }
      return undefined;
    },
  };
}

/** A fault in the server's permessage-deflate response (the handshake fails). */
function badResponse(message: string): PeerError {
  return new PeerError(1006, message, "WS_ERR_INVALID_EXTENSION");
}
