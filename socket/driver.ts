/**
 * The one driver of a connection: it runs a sans-IO
 * {@linkcode Connection} on a {@linkcode Transport}. It is the only code
 * that writes a connection's output, pauses and resumes its reads, ends or
 * destroys its transport, and arms its timer — one timer per connection,
 * for the wait the core names ({@linkcode Connection.timer}: the opening
 * handshake, the peer's close frame, the linger before dropping the
 * transport) and for the wake-ups of a {@linkcode Wakeful} helper such as
 * the socket guard's idle and backpressure checks.
 *
 * Whoever owns the connection — the server while it decides on an upgrade
 * request, then the `WebSocket` — receives its events through a
 * {@linkcode DriverOwner}, handles them, and calls {@linkcode Driver.flush}.
 *
 * @example
 * ```ts
 * import { Connection } from "../core/connection.ts";
 * import { memoryPipe, StreamTransport } from "../adapters/streams.ts";
 * import { Driver } from "./driver.ts";
 *
 * const [near] = memoryPipe();
 * const conn = Connection.client("ws://localhost/");
 * const driver = new Driver(conn, new StreamTransport(near), {
 *   events(events) {
 *     for (const event of events) console.log(event.type);
 *     driver.flush();
 *   },
 *   drained() {},
 *   closed() {},
 * });
 * driver.flush(); // writes the upgrade request, arms the handshake timer
 * ```
 *
 * @module
 */

import type {
  Connection,
  ConnectionEvent,
  ConnectionTimer,
} from "../core/connection.ts";
import type { Transport, TransportHandlers } from "../adapters/transport.ts";

/** What a {@linkcode Driver} reports to the owner of its connection. */
export interface DriverOwner {
  /**
   * The connection's events: from bytes that arrived (`received` true), an
   * expired timer or {@linkcode Driver.deliver}. Handle them, then call
   * {@linkcode Driver.flush}.
   */
  events(events: readonly ConnectionEvent[], received: boolean): void;
  /** The transport handed what was written to the operating system. */
  drained(): void;
  /** The transport closed (reported once); `error` says why, if it failed. */
  closed(error?: Error): void;
  /**
   * Reading was paused (true) or resumed (false) because the peer does not
   * read what is written to it (see `pauseReadingAt`).
   */
  backpressure?(paused: boolean): void;
}

/** A helper that needs the connection's timer for checks of its own. */
export interface Wakeful {
  /** When (`Date.now()` milliseconds) to call `wake`; undefined: never. */
  readonly wakeAt: number | undefined;
  /** The time came (`now`, in `Date.now()` milliseconds). */
  wake(now: number): void;
}

/**
 * Why reading is paused, as bits: reading resumes once no reason is left.
 * `Failed` is never lifted (RFC 6455 §7.1.1: after failing, read nothing).
 */
export const Hold = {
  /** The application asked (`pauseReading()`). */
  Caller: 1,
  /** The peer does not read what is written (`pauseReadingAt`). */
  Backpressure: 2,
  /** A large message is being decoded off the event loop. */
  Decoding: 4,
  /** The server's hooks decide on the upgrade request. */
  Deciding: 8,
  /** A limit failed the connection. */
  Failed: 16,
} as const;

/** One of the {@linkcode Hold} bits. */
export type HoldReason = typeof Hold[keyof typeof Hold];

/** The owner of a driver nobody has taken yet: reports go nowhere. */
const UNOWNED: DriverOwner = {
  events(): void {},
  drained(): void {},
  closed(): void {},
};

/** Runs one connection on one transport; see the module doc. */
export class Driver implements TransportHandlers {
  /** The connection driven. */
  readonly connection: Connection;
  /** The transport it runs on. */
  readonly transport: Transport;
  /** Receives the connection's events; may change hands (handshake → socket). */
  owner: DriverOwner;
  /** Also wakes this helper from the connection's one timer. */
  wakeful: Wakeful | undefined;
  /** Bytes given to the transport so far. */
  written = 0;
  /** Reading pauses while more than this many bytes wait in the transport. */
  readonly #pauseAt: number;
  #holds = 0;
  #ended = false;
  #closed = false;
  /** The core's wait being timed, and when it is due. */
  #wait: ConnectionTimer | undefined;
  #waitAt = Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When `#timer` fires (Infinity: not armed). */
  #timerAt = Infinity;

  /**
   * Takes over `transport` (its handlers are set to this driver) for
   * `connection`, reporting to `owner` (none yet: set `owner` before the
   * transport can report). Nothing is written until
   * {@linkcode Driver.flush}.
   */
  constructor(
    connection: Connection,
    transport: Transport,
    owner: DriverOwner = UNOWNED,
    pauseReadingAt: number = Infinity,
  ) {
    this.connection = connection;
    this.transport = transport;
    this.owner = owner;
    this.#pauseAt = pauseReadingAt;
    transport.handlers = this;
  }

  /** Whether the transport has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes waiting to be written: in the connection and in the transport. */
  get queued(): number {
    return this.transport.buffered + this.connection.outputLength;
  }

  /** @internal `TransportHandlers`: bytes from the peer. */
  data(chunk: Uint8Array): void {
    this.owner.events(this.connection.receive(chunk), true);
  }

  /** @internal `TransportHandlers`: the transport drained. */
  drain(): void {
    if (
      (this.#holds & Hold.Backpressure) !== 0 &&
      this.transport.buffered <= this.#pauseAt / 2
    ) {
      this.hold(Hold.Backpressure, false);
      this.owner.backpressure?.(false);
      this.#schedule();
    }
    this.owner.drained();
  }

  /** @internal `TransportHandlers`: the transport closed. */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#disarm();
    this.owner.closed(error);
  }

  /** Hands `events` (from a command on the connection) to the owner. */
  deliver(events: readonly ConnectionEvent[]): void {
    this.owner.events(events, false);
  }

  /**
   * Writes the connection's output, pauses reading if the peer does not
   * read it, ends the transport when the connection asks (or drops it, when
   * there is nothing to wait for), and arms the timer for what the
   * connection waits for. Returns whether anything was written.
   */
  flush(): boolean {
    const output = this.connection.takeOutput();
    const transport = this.transport;
    for (let i = 0; i < output.length; i++) {
      transport.write(output[i]);
      this.written += output[i].length;
    }
    if (this.#closed) return output.length > 0;
    if (
      transport.buffered > this.#pauseAt &&
      (this.#holds & Hold.Backpressure) === 0
    ) {
      this.hold(Hold.Backpressure, true);
      this.owner.backpressure?.(true);
    }
    if (this.connection.wantsTransportClose && !this.#ended) {
      this.#ended = true;
      if (this.connection.timer?.ms === 0) {
        transport.destroy(); // nothing to send, nothing to wait for
        return output.length > 0;
      }
      transport.end();
    }
    this.#schedule();
    return output.length > 0;
  }

  /** Pauses reading for `reason` (`on`), or lifts that reason. */
  hold(reason: HoldReason, on: boolean): void {
    const before = this.#holds;
    const after = on ? before | reason : before & ~reason;
    if (after === before) return;
    this.#holds = after;
    if (before === 0) this.transport.pause();
    else if (after === 0) this.transport.resume();
  }

  /** Whether reading is paused for `reason`. */
  holding(reason: HoldReason): boolean {
    return (this.#holds & reason) !== 0;
  }

  /** Closes the transport at once, dropping what is queued. */
  destroy(): void {
    this.transport.destroy();
  }

  /**
   * Re-arms the timer if what is waited for changed: the connection's wait
   * (a new `timer` object starts its count now) or the helper's wake-up.
   */
  #schedule(): void {
    if (this.#closed) return;
    const wait = this.connection.timer;
    if (wait !== this.#wait) {
      this.#wait = wait;
      this.#waitAt = wait === undefined ? Infinity : Date.now() + wait.ms;
    }
    const at = Math.min(this.#waitAt, this.wakeful?.wakeAt ?? Infinity);
    if (at === this.#timerAt) return;
    this.#disarm();
    if (at === Infinity) return;
    this.#timerAt = at;
    this.#timer = setTimeout(Driver.#fire, Math.max(0, at - Date.now()), this);
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  /** The timer's callback (one function for all drivers: no closure each). */
  static #fire(driver: Driver): void {
    driver.#expired();
  }

  #expired(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#closed) return;
    const now = Date.now();
    const wait = this.#wait;
    if (wait !== undefined && now >= this.#waitAt) {
      this.#waitAt = Infinity; // fired: the same wait is not timed again
      if (wait.kind === "linger") {
        this.transport.destroy(); // the peer did not close in time
        return;
      }
      this.owner.events(this.connection.timeout(), false);
    } else {
      const wakeful = this.wakeful;
      if (wakeful?.wakeAt !== undefined && now >= wakeful.wakeAt) {
        wakeful.wake(now);
      }
    }
    this.#schedule();
  }
}

/**
 * Answers a transport that has no connection (e.g. a server at capacity):
 * writes `response`, ends the transport and drops it if the peer has not
 * closed within `lingerMs`, so a peer that keeps TCP open cannot hold it.
 * Bytes from the peer are ignored.
 */
export function refuse(
  transport: Transport,
  response: Uint8Array,
  lingerMs: number,
): void {
  const timer = setTimeout(() => transport.destroy(), lingerMs);
  transport.handlers = {
    data(): void {},
    drain(): void {},
    close(): void {
      clearTimeout(timer);
    },
  };
  transport.write(response);
  transport.resume(); // to see the peer's EOF, should reads have been paused
  transport.end();
}
