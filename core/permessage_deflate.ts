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

import { PeerError, ProtocolError } from "./errors.ts";
import {
  type DecodeOutcome,
  type DeferredDecode,
  type Extension,
  type ExtensionNegotiator,
  type ExtensionParams,
  formatExtension,
} from "./extension.ts";
import { RSV1 } from "./frame.ts";

/** Options for one {@linkcode DeflateCodec.deflate} call. */
export interface DeflateOptions {
  /** The LZ77 window, 2^windowBits bytes (never below the codec's `minWindowBits`). */
  windowBits: number;
  /** Compression level, 0–9. */
  level: number;
  /** zlib memLevel, 1–9 (memory for the match finder). */
  memLevel?: number;
  /**
   * Bytes that precede `data` in the stream (the end of earlier messages):
   * prime the window with them (zlib's `deflateSetDictionary`).
   */
  dictionary?: Uint8Array;
}

/** Options for one {@linkcode DeflateCodec.inflate} call. */
export interface InflateOptions {
  /** The peer's LZ77 window, 2^windowBits bytes (8–15). */
  windowBits: number;
  /**
   * The last bytes of earlier messages, which `data` may refer back into
   * (zlib's `inflateSetDictionary`).
   */
  dictionary?: Uint8Array;
  /** The most bytes the output may have. */
  maxOutput: number;
}

/**
 * A synchronous raw DEFLATE codec (RFC 1951 without zlib or gzip framing).
 * Calls must not keep references to their arguments.
 */
export interface DeflateCodec {
  /**
   * Compresses `data` and ends with a sync flush, so the output ends with
   * the empty stored block `00 00 ff ff`.
   */
  deflate(data: Uint8Array, options: DeflateOptions): Uint8Array;
  /**
   * Decompresses `data` (a complete message followed by `00 00 ff ff`).
   * Returns `undefined`, without producing more, once the output would
   * exceed `maxOutput` bytes; throws for invalid data.
   */
  inflate(data: Uint8Array, options: InflateOptions): Uint8Array | undefined;
  /**
   * Optional: `inflate` done off the caller's event loop (a thread pool, or
   * in bounded slices). Calls `done` once, asynchronously, with what
   * `inflate` would have returned for the same arguments (`output`
   * undefined past `maxOutput`) or thrown (`error`). With it, large
   * messages are decompressed through it on suspendable connections.
   */
  inflateLater?(
    data: Uint8Array,
    options: InflateOptions,
    done: (outcome: DecodeOutcome) => void,
  ): void;
  /**
   * The smallest window `deflate` can honour. Default 9: zlib has no 8-bit
   * (256-byte) window for raw deflate.
   */
  readonly minWindowBits?: number;
  /**
   * False if `deflate` cannot use `dictionary`: messages are then each
   * compressed alone, and the handshake says so (`server_no_context_takeover`
   * in a server's response, `client_no_context_takeover` in a client's
   * offer). Default true.
   */
  readonly contextTakeover?: boolean;
}

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

/** The extension token. */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

/** The empty stored block a sync flush ends with (RFC 7692 §7.2.1). */
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
const MAX_BITS = 15;
const MIN_CONTEXT = 4096;
const MAX_SYNC_INFLATE = 256 * 1024;

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

/** What one connection uses, once negotiated. */
interface Setup {
  codec: DeflateCodec;
  threshold: number;
  level: number;
  memLevel: number;
  contextBytes?: number;
  maxSyncInflate: number;
  /** Window bits we compress with; 0: never compress. */
  sendBits: number;
  sendTakeover: boolean;
  receiveBits: number;
  receiveTakeover: boolean;
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

/**
 * The last bytes of a stream of messages (at most `max`), kept as a
 * dictionary. Storage grows with the traffic, doubling, up to `max`.
 */
class History {
  readonly #max: number;
  #buffer = new Uint8Array(0);
  #length = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** The last `count` bytes (default all), or undefined if there are none. */
  tail(count = this.#length): Uint8Array | undefined {
    const n = Math.min(count, this.#length);
    return n === 0
      ? undefined
      : this.#buffer.subarray(this.#length - n, this.#length);
  }

  /** Appends a copy of `data`, forgetting what falls out of the window. */
  push(data: Uint8Array): void {
    const max = this.#max;
    if (data.length >= max) {
      if (this.#buffer.length < max) this.#buffer = new Uint8Array(max);
      this.#buffer.set(data.subarray(data.length - max));
      this.#length = max;
      return;
    }
    const wanted = Math.min(max, this.#length + data.length);
    if (wanted > this.#buffer.length) {
      const grown = new Uint8Array(
        Math.min(max, Math.max(wanted, this.#buffer.length * 2)),
      );
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    if (this.#length + data.length > this.#buffer.length) {
      const keep = this.#buffer.length - data.length;
      this.#buffer.copyWithin(0, this.#length - keep, this.#length);
      this.#length = keep;
    }
    this.#buffer.set(data, this.#length);
    this.#length += data.length;
  }

  /** Bytes of storage held. */
  get size(): number {
    return this.#buffer.byteLength;
  }
}

/** `payload` followed by the `00 00 ff ff` the sender removed. */
function withTail(payload: Uint8Array): Uint8Array {
  const input = new Uint8Array(payload.length + TAIL.length);
  input.set(payload);
  input.set(TAIL, payload.length);
  return input;
}

/**
 * A message too large to inflate on the event loop: `run` hands it to the
 * codec's `inflateLater`, `finish` completes it as `decode` would. Nothing
 * else is decoded on the connection in between, so the dictionary (a view
 * of the receive window) stays what it was when the message arrived.
 */
class DeferredInflate implements DeferredDecode {
  readonly #owner: PerMessageDeflate;
  readonly #codec: DeflateCodec;
  readonly #input: Uint8Array;
  readonly #options: InflateOptions;

  constructor(
    owner: PerMessageDeflate,
    codec: DeflateCodec,
    input: Uint8Array,
    options: InflateOptions,
  ) {
    this.#owner = owner;
    this.#codec = codec;
    this.#input = input;
    this.#options = options;
  }

  run(done: (outcome: DecodeOutcome) => void): void {
    this.#codec.inflateLater!(this.#input, this.#options, done);
  }

  finish(outcome: DecodeOutcome): Uint8Array {
    return this.#owner.finishInflate(outcome, this.#options.maxOutput);
  }
}

/** A negotiated permessage-deflate instance: one per connection. */
class PerMessageDeflate implements Extension {
  readonly name = PERMESSAGE_DEFLATE;
  readonly rsv = RSV1;
  readonly response: string;
  readonly #setup: Setup;
  #sent?: History;
  #received?: History;

  constructor(response: string, setup: Setup) {
    this.response = response;
    this.#setup = setup;
    if (setup.sendTakeover && setup.sendBits !== 0) {
      this.#sent = new History(1 << setup.sendBits);
    }
    if (setup.receiveTakeover) {
      this.#received = new History(1 << setup.receiveBits);
    }
  }

  encode(
    payload: Uint8Array,
    _opcode: number,
  ): { payload: Uint8Array; rsv: number } {
    const setup = this.#setup;
    if (setup.sendBits === 0 || payload.length < setup.threshold) {
      return { payload, rsv: 0 };
    }
    const sent = this.#sent;
    const context = setup.contextBytes ??
      Math.max(MIN_CONTEXT, 4 * payload.length);
    const out = setup.codec.deflate(payload, {
      windowBits: setup.sendBits,
      level: setup.level,
      memLevel: setup.memLevel,
      dictionary: sent?.tail(context),
    });
    const n = out.length - 4;
    if (
      n < 0 || out[n] !== 0 || out[n + 1] !== 0 || out[n + 2] !== 0xff ||
      out[n + 3] !== 0xff
    ) {
      throw new Error("deflate codec output does not end with a sync flush");
    }
    // Not smaller: send it as it is (the peer's window does not change).
    if (n >= payload.length) return { payload, rsv: 0 };
    sent?.push(payload);
    return { payload: out.subarray(0, n), rsv: RSV1 };
  }

  decode(payload: Uint8Array, _rsv: number, maxSize: number): Uint8Array {
    const input = withTail(payload);
    const options = this.#inflateOptions(maxSize);
    let out: Uint8Array | undefined;
    try {
      out = this.#setup.codec.inflate(input, options);
    } catch (error) {
      return this.finishInflate({ error }, maxSize);
    }
    return this.finishInflate({ output: out }, maxSize);
  }

  decodeOrDefer(
    payload: Uint8Array,
    rsv: number,
    maxSize: number,
  ): Uint8Array | DeferredDecode {
    const { codec, maxSyncInflate } = this.#setup;
    if (codec.inflateLater === undefined || maxSize <= maxSyncInflate) {
      return this.decode(payload, rsv, maxSize);
    }
    const input = withTail(payload);
    const options = this.#inflateOptions(maxSize);
    if (input.length <= maxSyncInflate) {
      // Try here within the budget; most messages fit.
      let out: Uint8Array | undefined;
      try {
        out = codec.inflate(input, { ...options, maxOutput: maxSyncInflate });
      } catch (error) {
        return this.finishInflate({ error }, maxSize);
      }
      if (out !== undefined) {
        return this.finishInflate({ output: out }, maxSize);
      }
    }
    return new DeferredInflate(this, codec, input, options);
  }

  /** What `inflate` needs besides the data, for a message of at most `maxSize`. */
  #inflateOptions(maxSize: number): InflateOptions {
    return {
      windowBits: this.#setup.receiveBits,
      dictionary: this.#received?.tail(),
      maxOutput: maxSize,
    };
  }

  /**
   * The message for a codec's outcome: the output, taken into the receive
   * window; throws 1007 for an error and 1009 past `maxSize`.
   */
  finishInflate(outcome: DecodeOutcome, maxSize: number): Uint8Array {
    if ("error" in outcome) {
      const { error } = outcome;
      const reason = error instanceof Error ? error.message : String(error);
      throw new ProtocolError(
        1007,
        `invalid compressed data: ${reason}`,
        "WS_ERR_INVALID_COMPRESSED_DATA",
      );
    }
    const out = outcome.output;
    if (out === undefined || out.length > maxSize) {
      throw new ProtocolError(
        1009,
        `message exceeds ${maxSize} bytes once decompressed`,
        "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH",
      );
    }
    this.#received?.push(out);
    return out;
  }

  dispose(): void {
    this.#sent = undefined;
    this.#received = undefined;
  }

  /** Bytes held for context takeover (both windows); for measurements. */
  get retainedBytes(): number {
    return (this.#sent?.size ?? 0) + (this.#received?.size ?? 0);
  }
}

/** A fault in the server's permessage-deflate response (the handshake fails). */
function badResponse(message: string): PeerError {
  return new PeerError(1006, message, "WS_ERR_INVALID_EXTENSION");
}
