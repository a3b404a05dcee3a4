/**
 * permessage-deflate's per-message framing, once negotiated (RFC 7692
 * §7.2): RSV1, the `00 00 ff ff` tail, context takeover carried as
 * dictionaries, the size threshold and bounded decompression, over a
 * {@linkcode DeflateCodec} that is passed in. The negotiation, and the
 * public names, are in ./permessage_deflate.ts.
 *
 * @module
 */

import { errorMessage, ProtocolError } from "./errors.ts";
import type { DecodeOutcome, DeferredDecode, Extension } from "./extension.ts";
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

/** The extension token. */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

/** The empty stored block a sync flush ends with (RFC 7692 §7.2.1). */
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
/** The largest LZ77 window, in bits. */
export const MAX_BITS = 15;
const MIN_CONTEXT = 4096;

/** What one connection uses, once negotiated. */
export interface Setup {
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
export class PerMessageDeflate implements Extension {
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
    const sent = this.#sent;
    const encoded = this.#compress(payload, sent);
    if (encoded.rsv !== 0) sent?.push(payload);
    return encoded;
  }

  /**
   * Messages compressed with no history are valid on every connection
   * that compresses with the same window, level and threshold, context
   * takeover or not: the peer's inflater only ever looks back as far as
   * the message itself reaches.
   */
  get shareKey(): string {
    const setup = this.#setup;
    return setup.sendBits === 0
      ? "pmd:none"
      : `pmd:${setup.sendBits}:${setup.level}:${setup.memLevel}:${setup.threshold}`;
  }

  encodeShared(
    payload: Uint8Array,
    _opcode: number,
  ): { payload: Uint8Array; rsv: number } {
    return this.#compress(payload, undefined);
  }

  sentShared(payload: Uint8Array, rsv: number): void {
    if (rsv !== 0) this.#sent?.push(payload);
  }

  /** Compresses `payload`, primed with `history` if given. */
  #compress(
    payload: Uint8Array,
    history: History | undefined,
  ): { payload: Uint8Array; rsv: number } {
    const setup = this.#setup;
    if (setup.sendBits === 0 || payload.length < setup.threshold) {
      return { payload, rsv: 0 };
    }
    const context = setup.contextBytes ??
      Math.max(MIN_CONTEXT, 4 * payload.length);
    const out = setup.codec.deflate(payload, {
      windowBits: setup.sendBits,
      level: setup.level,
      memLevel: setup.memLevel,
      dictionary: history?.tail(context),
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
      const reason = errorMessage(error);
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
