/**
 * The states of a connection and every move between them, in two small
 * tables (one for the protocol, one for the transport), private to
 * `Connection`. A move a table does not list is a bug in wskit and throws.
 *
 * Protocol: `CONNECTING → OPEN → LOCAL_CLOSING | REMOTE_CLOSING → CLOSED`,
 * and any state but `REMOTE_CLOSING` may fail straight to `CLOSED`.
 * Transport: `UP → LINGERING | ENDED → GONE`. A {@linkcode Lifecycle} holds
 * both and derives from them the ready state and the timer to run.
 *
 * @module
 */

import {
  type ConnectionTimer,
  ReadyState,
  type ReadyStateValue,
} from "./connection_types.ts";

/** Where a connection is in the protocol. */
export const Phase = {
  /** The opening handshake is under way. */
  CONNECTING: 0,
  /** Messages flow both ways. */
  OPEN: 1,
  /** Our close frame is queued or sent; the peer's is awaited. */
  LOCAL_CLOSING: 2,
  /**
   * Closed for the application (the peer's close arrived, or its data broke
   * the protocol), with our close frame queued for the next `takeOutput()`:
   * data sent meanwhile goes out first.
   */
  REMOTE_CLOSING: 3,
  /** Done at the protocol level. */
  CLOSED: 4,
} as const;

/** One of the {@linkcode Phase} values. */
export type PhaseValue = typeof Phase[keyof typeof Phase];

/** What moves the protocol from one phase to the next. */
export type PhaseTrigger =
  /** The opening handshake succeeded (or there was none). */
  | "open"
  /** The application closed: our close frame is queued. */
  | "sendClose"
  /** The peer's close frame arrived. */
  | "receiveClose"
  /** A violation or a limit: fail with a close frame, if one may be sent. */
  | "fail"
  /** Fail with nothing to send (handshake failure, timeout, transport gone). */
  | "abort"
  /** The close frame `REMOTE_CLOSING` held is taken with the output. */
  | "closeWritten";

/** A transition table: for each state (by number), trigger → next state. */
type Table<S extends number, T extends string> = readonly Readonly<
  Partial<Record<T, S>>
>[];

const { CONNECTING, OPEN, LOCAL_CLOSING, REMOTE_CLOSING, CLOSED } = Phase;

const PHASES: Table<PhaseValue, PhaseTrigger> = [
  /* CONNECTING */ { open: OPEN, abort: CLOSED },
  /* OPEN */ {
    sendClose: LOCAL_CLOSING,
    receiveClose: REMOTE_CLOSING,
    fail: REMOTE_CLOSING,
    abort: CLOSED,
  },
  /* LOCAL_CLOSING */ { receiveClose: CLOSED, fail: CLOSED, abort: CLOSED },
  /* REMOTE_CLOSING */ { closeWritten: CLOSED },
  /* CLOSED */ {},
];

/** The browser-visible ready state of each phase. */
const READY_STATES: readonly ReadyStateValue[] = [
  ReadyState.CONNECTING,
  ReadyState.OPEN,
  ReadyState.CLOSING,
  ReadyState.CLOSED,
  ReadyState.CLOSED,
];

/** The state `trigger` moves `from` to in `table`; throws if not listed. */
function next<S extends number, T extends string>(
  table: Table<S, T>,
  from: S,
  trigger: T,
): S {
  const to = table[from][trigger];
  if (to === undefined) {
    throw new Error(`bug: no ${trigger} from state ${from}`);
  }
  return to;
}

/** Where the transport is, as far as the connection knows. */
export const TransportPhase = {
  /** In use. */
  UP: 0,
  /**
   * Client after a clean close: the server is to close the transport first
   * (RFC 6455 §7.1.1); the embedder keeps it open meanwhile.
   */
  LINGERING: 1,
  /** The embedder should end the transport once the output is written. */
  ENDED: 2,
  /** The embedder reported `transportClosed()`. */
  GONE: 3,
} as const;

/** One of the {@linkcode TransportPhase} values. */
export type TransportPhaseValue =
  typeof TransportPhase[keyof typeof TransportPhase];

/** What moves the transport phase. */
export type TransportTrigger = "linger" | "end" | "gone";

const { UP, LINGERING, ENDED, GONE } = TransportPhase;

const TRANSPORT: Table<TransportPhaseValue, TransportTrigger> = [
  /* UP */ { linger: LINGERING, end: ENDED, gone: GONE },
  /* LINGERING */ { end: ENDED, gone: GONE },
  /* ENDED */ { end: ENDED, gone: GONE },
  /* GONE */ { end: GONE, gone: GONE },
];

/**
 * A connection's protocol and transport phases, and what follows from them;
 * the base of the connection's engine.
 */
export class Lifecycle {
  /** Where the protocol is. */
  phase: PhaseValue;
  /** Where the transport is. */
  transport: TransportPhaseValue = UP;
  readonly #handshakeMs: number;
  readonly #closeMs: number;
  /** The linger wait (set to 0 when a client's handshake fails). */
  #lingerMs: number;
  #timer: ConnectionTimer | undefined;

  /**
   * Starts in `phase`; the waits last `handshakeMs` (the opening handshake),
   * `closeMs` (the peer's close frame) and `lingerMs` (the peer to close the
   * transport).
   */
  constructor(
    phase: PhaseValue,
    handshakeMs: number,
    closeMs: number,
    lingerMs: number,
  ) {
    this.phase = phase;
    this.#handshakeMs = handshakeMs;
    this.#closeMs = closeMs;
    this.#lingerMs = lingerMs;
  }

  /** Moves the protocol phase by `trigger`. */
  move(trigger: PhaseTrigger): void {
    this.phase = next(PHASES, this.phase, trigger);
  }

  /** Moves the transport phase by `trigger`. */
  moveTransport(trigger: TransportTrigger): void {
    this.transport = next(TRANSPORT, this.transport, trigger);
  }

  /**
   * Closes at the protocol level by `trigger`. The transport is to be ended,
   * except after a client's clean close (the server closes it first).
   */
  enterClosed(trigger: PhaseTrigger, wasClean: boolean, client: boolean): void {
    // A client whose handshake failed has nothing to wait for.
    if (client && this.phase === CONNECTING) this.#lingerMs = 0;
    this.move(trigger);
    this.moveTransport(wasClean && client ? "linger" : "end");
  }

  /** Whether the connection is closed for the application. */
  get closed(): boolean {
    return this.phase >= REMOTE_CLOSING;
  }

  /** The {@linkcode ReadyState}. */
  get readyState(): ReadyStateValue {
    return READY_STATES[this.phase];
  }

  /** Whether data may still be queued (see `Connection.canSend`). */
  get canSend(): boolean {
    return this.phase === OPEN || this.phase === REMOTE_CLOSING;
  }

  /** Whether the embedder should end the transport after writing. */
  get wantsTransportClose(): boolean {
    return this.transport >= ENDED;
  }

  /** The wait in effect (see `Connection.timer`). */
  get timer(): ConnectionTimer | undefined {
    const phase = this.phase;
    if (this.transport === GONE || phase === OPEN) {
      this.#timer = undefined; // an open connection keeps no timer object
      return undefined;
    }
    const kind = phase === CONNECTING
      ? "handshake"
      : phase === LOCAL_CLOSING
      ? "close"
      : "linger";
    // Each kind is in effect for one stretch of the connection's life.
    if (this.#timer?.kind !== kind) {
      const ms = kind === "linger"
        ? this.#lingerMs
        : kind === "close"
        ? this.#closeMs
        : this.#handshakeMs;
      this.#timer = Object.freeze({ kind, ms });
    }
    return this.#timer;
  }
}
