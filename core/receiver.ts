/**
 * The receive side of an open connection, private to `Connection`: it is
 * the decoder's {@linkcode FrameSink}. It gathers control frames, assembles
 * data messages (with their limits), runs them through the negotiated
 * extensions (putting a large one off on a suspendable connection), and
 * parses close frames. Pings and closes go to its host; messages, pings and
 * pongs become events in {@linkcode Receiver.events}.
 *
 * @module
 */

import { EMPTY_BYTES } from "./bytes.ts";
import { isValidWireCloseCode } from "./close.ts";
import { FrameDecoder, type FrameSink } from "./decoder.ts";
import { LocalError, ProtocolError, rsvErrorId } from "./errors.ts";
import type { DecodeOutcome, DeferredDecode, Extension } from "./extension.ts";
import { Opcode } from "./frame.ts";
import type { ConnectionEvent } from "./connection_types.ts";
import {
  DEFAULT_MESSAGE_LIMITS,
  MessageAssembler,
  type MessageLimits,
  singleMessage,
} from "./message.ts";
import { isValidUtf8 } from "./utf8.ts";

/** What the receiver tells its connection. */
export interface ReceiverHost {
  /** A ping arrived (before its event is reported): answer it. */
  receivedPing(payload: Uint8Array): void;
  /** A valid close frame arrived; `payload` is its raw payload. */
  receivedClose(code: number, reason: string, payload: Uint8Array): void;
}

const textDecoder = new TextDecoder();
const NO_EXTENSIONS: readonly Extension[] = Object.freeze([]);

/** The receive side; see the module doc. */
export class Receiver implements FrameSink {
  /** Where events go: the connection points it at the current batch. */
  events: ConnectionEvent[];
  /** Set when the connection closed: frames after that are ignored. */
  stopped = false;
  readonly #host: ReceiverHost;
  readonly #decoder: FrameDecoder;
  readonly #limits: MessageLimits;
  readonly #suspendable: boolean;
  #messages: MessageAssembler | undefined;
  /** Negotiated extensions, in negotiation order. */
  #active: readonly Extension[] = NO_EXTENSIONS;
  /** Runs received messages through `#active` (made when there are any). */
  #decodeExtensions:
    | ((payload: Uint8Array, rsv: number, maxSize: number) => Uint8Array)
    | undefined;
  // the frame being decoded
  #frameOpcode = 0;
  #frameFin = false;
  /** The payload of the control frame being received, exactly its size. */
  #control: Uint8Array = EMPTY_BYTES;
  #controlLength = 0;
  /** The opcode of the data message being received. */
  #messageOpcode = 0;
  // a message's deferred decoding (suspendable connections)
  /** Set while suspended: the decoding the embedder runs. */
  #deferred: DeferredDecode | undefined;
  /** The extensions (by index) still to run after `#deferred`. */
  #deferredNext = 0;
  #deferredRsv = 0;
  #deferredOpcode = 0;
  /** Bytes received while suspended, unread, in order. */
  #held: Uint8Array[] | undefined;

  /** Creates the receive side of a connection with `role`. */
  constructor(
    host: ReceiverHost,
    events: ConnectionEvent[],
    options: Partial<MessageLimits> & {
      role: "client" | "server";
      suspendable?: boolean;
    },
  ) {
    this.#host = host;
    this.events = events;
    this.#limits = messageLimits(options);
    this.#suspendable = options.suspendable === true;
    this.#decoder = new FrameDecoder(this, { role: options.role });
  }

  /** Makes `extensions` live: their RSV bits become legal on receive. */
  activate(extensions: readonly Extension[]): void {
    this.#active = extensions;
    if (extensions.length > 0) {
      this.#decodeExtensions ??= (payload, rsv, maxSize) =>
        this.#runExtensions(payload, rsv, maxSize);
    }
    let rsv = 0;
    for (const extension of extensions) rsv |= extension.rsv;
    this.#decoder.allowedRsv = rsv;
  }

  /** Decodes `chunk`, or keeps it while suspended (and what a suspend left). */
  feed(chunk: Uint8Array): void {
    if (this.#deferred !== undefined) {
      (this.#held ??= []).push(chunk);
      return;
    }
    const used = this.#decoder.push(chunk);
    if (used < chunk.length) (this.#held ??= []).push(chunk.subarray(used));
  }

  /** Feeds `chunks` in order, until the connection closes. */
  feedAll(chunks: readonly Uint8Array[]): void {
    for (const chunk of chunks) {
      if (this.stopped) break;
      this.feed(chunk);
    }
  }

  /** Whether a `suspend` was reported and `resume()` not yet called. */
  get suspended(): boolean {
    return this.#deferred !== undefined;
  }

  /**
   * Ends a suspension (throws if there is none). Returns the step that
   * finishes the message and feeds the bytes held since, to run collecting
   * events; or undefined once the connection has closed meanwhile.
   */
  resume(outcome: DecodeOutcome): (() => void) | undefined {
    const job = this.#deferred;
    if (job === undefined) {
      throw new LocalError("state", "resume() without a suspend event");
    }
    this.#deferred = undefined;
    const held = this.#held;
    this.#held = undefined;
    if (this.stopped) return undefined;
    return () => {
      const opcode = this.#deferredOpcode;
      const data = this.#runExtensions(
        job.finish(outcome),
        this.#deferredRsv,
        this.#limits.maxMessageSize,
        this.#deferredNext,
      );
      if (this.#deferred !== undefined) {
        this.events.push({ type: "suspend", job: this.#deferred });
      } else {
        this.events.push({
          type: "message",
          data: decodedMessage(opcode, data),
        });
      }
      if (held !== undefined) this.feedAll(held);
    };
  }

  /**
   * Runs a received message through the extensions, last first, from
   * `from`. On a suspendable connection an extension may put its work off:
   * then `#deferred` is set and the (meaningless) result is empty.
   */
  #runExtensions(
    payload: Uint8Array,
    rsv: number,
    maxSize: number,
    from: number = this.#active.length - 1,
  ): Uint8Array {
    const active = this.#active;
    for (let i = from; i >= 0; i--) {
      const extension = active[i];
      const bits = rsv & extension.rsv;
      if (bits === 0) continue;
      if (!this.#suspendable || extension.decodeOrDefer === undefined) {
        payload = extension.decode(payload, bits, maxSize);
        continue;
      }
      const result = extension.decodeOrDefer(payload, bits, maxSize);
      if (result instanceof Uint8Array) {
        payload = result;
        continue;
      }
      this.#deferred = result;
      this.#deferredNext = i - 1;
      this.#deferredRsv = rsv;
      this.#deferredOpcode = this.#messageOpcode;
      return EMPTY_BYTES;
    }
    return payload;
  }

  // ---- FrameSink: called by the decoder ----

  /** Part of `FrameSink`: a frame header. */
  frameStart(fin: boolean, rsv: number, opcode: number, length: number): void {
    if (this.stopped) return;
    this.#frameOpcode = opcode;
    if (opcode >= Opcode.Close) {
      if (rsv !== 0) {
        throw new ProtocolError(
          1002,
          "reserved bits set on a control frame",
          rsvErrorId(rsv),
        );
      }
      this.#controlLength = 0;
      this.#control = length === 0 ? EMPTY_BYTES : new Uint8Array(length);
      return;
    }
    this.#frameFin = fin;
    if (opcode !== Opcode.Continuation) this.#messageOpcode = opcode;
    (this.#messages ??= new MessageAssembler(this.#limits)).frame(
      opcode,
      length,
      rsv,
      fin,
    );
  }

  /** Part of `FrameSink`: a piece of payload. */
  framePayload(data: Uint8Array, start: number, end: number): void {
    if (this.stopped) return;
    if (this.#frameOpcode >= Opcode.Close) {
      const control = this.#control;
      for (let i = start; i < end; i++) {
        control[this.#controlLength++] = data[i];
      }
    } else {
      this.#messages!.append(data, start, end);
    }
  }

  /** Part of `FrameSink`: a whole final frame in one chunk. */
  frame(
    opcode: number,
    rsv: number,
    data: Uint8Array,
    start: number,
    end: number,
  ): void {
    if (
      (opcode !== Opcode.Text && opcode !== Opcode.Binary) || rsv !== 0 ||
      this.#messages?.inProgress || this.stopped
    ) {
      this.frameStart(true, rsv, opcode, end - start);
      this.framePayload(data, start, end);
      this.frameEnd();
      return;
    }
    // The common case: a small message, whole, in one frame.
    this.events.push({
      type: "message",
      data: singleMessage(this.#limits, opcode, data, start, end),
    });
  }

  /** Part of `FrameSink`: the frame's payload is complete. */
  frameEnd(): void {
    if (this.stopped) return;
    if (this.#frameOpcode >= Opcode.Close) {
      const payload = this.#control;
      this.#control = EMPTY_BYTES;
      this.#onControl(this.#frameOpcode, payload);
    } else if (this.#frameFin) {
      const data = this.#messages!.finish(
        this.#active.length === 0 ? undefined : this.#decodeExtensions,
      );
      if (this.#deferred === undefined) {
        this.events.push({ type: "message", data });
      } else {
        // An extension put the decoding off (`data` means nothing): read
        // no further until `resume()`.
        this.#decoder.halt();
        this.events.push({ type: "suspend", job: this.#deferred });
      }
    }
  }

  #onControl(opcode: number, payload: Uint8Array): void {
    if (opcode === Opcode.Ping) {
      this.#host.receivedPing(payload);
      this.events.push({ type: "ping", data: payload });
    } else if (opcode === Opcode.Pong) {
      this.events.push({ type: "pong", data: payload });
    } else {
      const { code, reason } = parseClose(payload);
      this.#host.receivedClose(code, reason, payload);
    }
  }
}

/** Parses and checks a close frame's payload (RFC 6455 §5.5.1, §7.4). */
function parseClose(payload: Uint8Array): { code: number; reason: string } {
  if (payload.length === 0) return { code: 1005, reason: "" };
  if (payload.length === 1) {
    throw new ProtocolError(
      1002,
      "close frame with a 1-byte payload",
      "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH",
    );
  }
  const code = (payload[0] << 8) | payload[1];
  if (!isValidWireCloseCode(code)) {
    throw new ProtocolError(
      1002,
      `invalid close code ${code}`,
      "WS_ERR_INVALID_CLOSE_CODE",
    );
  }
  const reasonBytes = payload.subarray(2);
  if (!isValidUtf8(reasonBytes)) {
    throw new ProtocolError(
      1007,
      "close reason is not valid UTF-8",
      "WS_ERR_INVALID_UTF8",
    );
  }
  return { code, reason: textDecoder.decode(reasonBytes) };
}

/**
 * A message its extensions decoded after a suspension, as
 * `MessageAssembler.finish` returns it: text validated whole and decoded.
 */
function decodedMessage(opcode: number, data: Uint8Array): string | Uint8Array {
  if (opcode !== Opcode.Text) {
    return data.length === 0 ? new Uint8Array(0) : data;
  }
  if (!isValidUtf8(data)) {
    throw new ProtocolError(
      1007,
      "invalid UTF-8 in a text message",
      "WS_ERR_INVALID_UTF8",
    );
  }
  return textDecoder.decode(data);
}

/** Message limits from options, sharing the defaults object when unset. */
function messageLimits(options: Partial<MessageLimits>): MessageLimits {
  if (
    options.maxMessageSize === undefined && options.maxFragments === undefined
  ) {
    return DEFAULT_MESSAGE_LIMITS;
  }
  return {
    maxMessageSize: options.maxMessageSize ??
      DEFAULT_MESSAGE_LIMITS.maxMessageSize,
    maxFragments: options.maxFragments ?? DEFAULT_MESSAGE_LIMITS.maxFragments,
  };
}
