/**
 * Per-connection protections that need a clock, so they live beside the
 * adapters rather than in the core: a cap on bytes queued for a slow
 * reader, a limit on how long reading may stay paused for backpressure, a
 * message/byte rate limit, and an idle timeout with ping keep-alive.
 *
 * A guard has no timer of its own: it says when it wants to check
 * (`wakeAt`) and the connection's driver wakes it from its one timer.
 *
 * @module
 */

import type { ErrorId } from "../core/errors.ts";
import type { Wakeful } from "./driver.ts";

/** Limits for one connection. Every one is off unless set. */
export interface SocketLimits {
  /**
   * Most bytes that may wait to be sent to the peer. Past it the connection
   * fails with 1008 and the transport is dropped: a peer that never reads
   * cannot grow our memory without bound.
   */
  maxQueuedBytes?: number;
  /**
   * Milliseconds reading may stay paused because the peer does not read
   * what we send; then the connection fails with 1008.
   */
  backpressureTimeout?: number;
  /** Most messages and/or payload bytes per window; over it: 1008. */
  rateLimit?: RateLimit;
  /**
   * Milliseconds without receiving anything before the connection is closed
   * (1001). A ping goes out after half of it, so a live peer's pong keeps the
   * connection open.
   */
  idleTimeout?: number;
}

/** A message rate limit. */
export interface RateLimit {
  /** Most messages per window. */
  messages?: number;
  /**
   * Most payload bytes per window, counting messages and the payloads of
   * pings and pongs from the peer.
   */
  bytes?: number;
  /**
   * Most pings from the peer per window; over it: 1008. Off on clients;
   * on a server, `serve()` uses `{ pings: 100 }` (per second) when no
   * `rateLimit` is given (a `rateLimit` of your own replaces it). Every
   * ping also counts toward `bytes`.
   */
  pings?: number;
  /** The window in milliseconds (default 1000). */
  windowMs?: number;
}

/** A limit the peer went past: the reason to close with, and its stable id. */
export interface GuardFault {
  /** The close reason (sent to the peer). */
  readonly reason: string;
  /** The `error` event's id. */
  readonly id: ErrorId;
}

/** A frozen fault (the ones that need no number in their reason). */
function fault(reason: string, id: ErrorId): GuardFault {
  return Object.freeze({ reason, id });
}

const MESSAGE_RATE = fault("message rate limit exceeded", "WS_ERR_RATE_LIMIT");
const BYTE_RATE = fault("byte rate limit exceeded", "WS_ERR_RATE_LIMIT");
const PING_RATE = fault("ping rate limit exceeded", "WS_ERR_PING_RATE_LIMIT");
const NOT_READING = fault(
  "peer does not read what is sent",
  "WS_ERR_BACKPRESSURE_TIMEOUT",
);

/** What a guard may ask its socket to do. */
export interface GuardActions {
  /** Send a keep-alive ping. */
  ping(): void;
  /** Close with 1001 (idle timeout). */
  goAway(reason: string): void;
  /** Fail the connection with 1008 for `fault`. */
  fail(fault: GuardFault): void;
}

/** Enforces {@linkcode SocketLimits} for one socket. */
export class SocketGuard implements Wakeful {
  readonly #limits: SocketLimits;
  readonly #actions: GuardActions;
  #lastReceive = Date.now();
  #windowStart = 0;
  #messages = 0;
  #bytes = 0;
  #pings = 0;
  #pausedSince = -1;
  /** Milliseconds between checks (Infinity: nothing to check). */
  readonly #tick: number;
  /** When the next check is due, or undefined while none is needed. */
  #wakeAt: number | undefined;

  /**
   * Checks periodically while `limits.idleTimeout` is set. Without it, only
   * while reading is paused for backpressure, so an idle connection under
   * the server's default limits needs no timer.
   */
  constructor(limits: SocketLimits, actions: GuardActions) {
    this.#limits = limits;
    this.#actions = actions;
    const idle = limits.idleTimeout;
    const pausedLimit = limits.backpressureTimeout;
    // Check four times per period, so a ping goes out with at least a
    // quarter of the idle timeout left for its pong.
    const tick = Math.min(
      idle === undefined ? Infinity : idle / 4,
      pausedLimit === undefined ? Infinity : pausedLimit / 4,
    );
    this.#tick = Number.isFinite(tick) ? Math.max(tick, 10) : Infinity;
    if (idle !== undefined) this.#start();
  }

  /** When (`Date.now()` ms) the guard wants to check, if it does. */
  get wakeAt(): number | undefined {
    return this.#wakeAt;
  }

  /** Runs the due check, and plans the next. */
  wake(now: number): void {
    this.#wakeAt = now + this.#tick;
    this.#check(now);
  }

  /** Starts the periodic check, unless it runs already. */
  #start(): void {
    if (this.#wakeAt !== undefined || this.#tick === Infinity) return;
    this.#wakeAt = Date.now() + this.#tick;
  }

  #check(now: number): void {
    const idle = this.#limits.idleTimeout;
    const pausedLimit = this.#limits.backpressureTimeout;
    if (
      pausedLimit !== undefined && this.#pausedSince >= 0 &&
      now - this.#pausedSince >= pausedLimit
    ) {
      this.#actions.fail(NOT_READING);
    } else if (idle !== undefined) {
      const silent = now - this.#lastReceive;
      if (silent >= idle) this.#actions.goAway("idle timeout");
      else if (silent >= idle / 2) this.#actions.ping();
    }
  }

  /** Bytes arrived from the peer. */
  received(): void {
    if (this.#limits.idleTimeout !== undefined) this.#lastReceive = Date.now();
  }

  /** A message of `size` bytes arrived; returns the fault if over the rate. */
  message(size: number): GuardFault | undefined {
    const rate = this.#limits.rateLimit;
    if (
      rate === undefined ||
      (rate.messages === undefined && rate.bytes === undefined)
    ) {
      return undefined; // (a ping limit alone costs messages nothing)
    }
    this.#window(rate);
    this.#messages++;
    this.#bytes += size;
    if (rate.messages !== undefined && this.#messages > rate.messages) {
      return MESSAGE_RATE;
    }
    if (rate.bytes !== undefined && this.#bytes > rate.bytes) return BYTE_RATE;
    return undefined;
  }

  /**
   * A ping (`ping` true) or pong with a payload of `size` bytes arrived;
   * returns the fault if over the ping or byte rate.
   */
  control(size: number, ping: boolean): GuardFault | undefined {
    const rate = this.#limits.rateLimit;
    if (rate === undefined) return undefined;
    this.#window(rate);
    this.#bytes += size;
    if (ping) this.#pings++;
    if (rate.pings !== undefined && this.#pings > rate.pings) return PING_RATE;
    if (rate.bytes !== undefined && this.#bytes > rate.bytes) return BYTE_RATE;
    return undefined;
  }

  /** Starts a new rate window if the current one is over. */
  #window(rate: RateLimit): void {
    const now = Date.now();
    if (now - this.#windowStart >= (rate.windowMs ?? 1000)) {
      this.#windowStart = now;
      this.#messages = 0;
      this.#bytes = 0;
      this.#pings = 0;
    }
  }

  /** Checks the send queue; returns the fault if it is over the cap. */
  queued(buffered: number): GuardFault | undefined {
    const max = this.#limits.maxQueuedBytes;
    return max !== undefined && buffered > max
      ? {
        reason: `more than ${max} bytes queued for a peer that does not read`,
        id: "WS_ERR_QUEUE_FULL",
      }
      : undefined;
  }

  /** Reading was paused (true) or resumed (false) for backpressure. */
  paused(paused: boolean): void {
    this.#pausedSince = paused ? Date.now() : -1;
    if (
      this.#limits.idleTimeout === undefined &&
      this.#limits.backpressureTimeout !== undefined
    ) {
      if (paused) this.#start();
      else this.stop();
    }
  }

  /** Stops the checks (the connection closed, or reading resumed). */
  stop(): void {
    this.#wakeAt = undefined;
  }
}
