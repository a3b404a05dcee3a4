/**
 * The event classes a `WebSocket` dispatches beyond plain `Event` and
 * `MessageEvent`: a `CloseEvent` (named and shaped like the DOM's, for
 * runtimes that lack one) and wskit's `ErrorEvent`, which also says what
 * went wrong. Both follow the WebIDL rules the DOM's classes do: the
 * attributes are enumerable getters on the prototype, and
 * `Object.prototype.toString` names the class.
 *
 * @example
 * ```ts
 * import { WebSocketCloseEvent } from "./events.ts";
 * const event = new WebSocketCloseEvent("close", { code: 1000, wasClean: true });
 * event.code; // 1000
 * String(event); // "[object CloseEvent]"
 * ```
 *
 * @module
 */

import {
  makeEnumerable,
  nameInterface,
  toUnsigned,
  toUSVString,
} from "./webidl.ts";

/** The dictionary a `CloseEvent` is made from (`CloseEventInit`). */
export interface CloseEventInit extends EventInit {
  /** The close code (default 0). */
  code?: number;
  /** The close reason (default ""). */
  reason?: string;
  /** Whether the closing handshake completed (default false). */
  wasClean?: boolean;
}

/** The dictionary an `ErrorEvent` is made from, plus wskit's `code`. */
export interface ErrorEventInit extends EventInit {
  /** Why it failed. */
  message?: string;
  /** A script URL (always "" for wskit's own events). */
  filename?: string;
  /** A line number (0 for wskit's own events). */
  lineno?: number;
  /** A column number (0 for wskit's own events). */
  colno?: number;
  /** The exception behind it, if any. */
  error?: unknown;
  /** The close code the failure caused. */
  code?: number;
  /** The failure's stable id (default ""). */
  id?: string;
}

/**
 * A WebSocket `close` event: the DOM's `CloseEvent`, built by wskit so
 * every runtime has it. `new WebSocketCloseEvent(type, init)` as in the DOM.
 */
export class WebSocketCloseEvent extends Event {
  readonly #code: number;
  readonly #reason: string;
  readonly #wasClean: boolean;

  /** Creates a close event of `type`, as `new CloseEvent(type, init)` does. */
  constructor(type: string, init: CloseEventInit = {}) {
    if (arguments.length === 0) {
      throw new TypeError(
        "Failed to construct 'CloseEvent': 1 argument required",
      );
    }
    if (init !== null && init !== undefined && typeof init !== "object") {
      throw new TypeError("CloseEventInit must be an object");
    }
    super(type, init ?? undefined);
    const dict = init ?? {};
    this.#wasClean = Boolean(dict.wasClean);
    this.#code = toUnsigned(dict.code ?? 0, 16);
    this.#reason = dict.reason === undefined ? "" : toUSVString(dict.reason);
  }

  /** The close code (1005 if none was given, 1006 for an abnormal closure). */
  get code(): number {
    return this.#code;
  }

  /** The close reason. */
  get reason(): string {
    return this.#reason;
  }

  /** Whether the closing handshake completed. */
  get wasClean(): boolean {
    return this.#wasClean;
  }

  static {
    makeEnumerable(this.prototype, ["wasClean", "code", "reason"]);
    nameInterface(this, "CloseEvent");
  }
}

/**
 * An `error` event that also says what went wrong: shaped like the DOM's
 * `ErrorEvent` (`message`, `filename`, `lineno`, `colno`, `error`), plus
 * the close `code` the failure caused and its stable `id` (one of
 * `ERROR_IDS` in core/errors.ts, e.g. `"WS_ERR_UNEXPECTED_RSV_1"`). Made as
 * `new WebSocketErrorEvent(message, code, error?, id?)` (type `"error"`) or,
 * as in the DOM, `new WebSocketErrorEvent(type, init?)`.
 */
export class WebSocketErrorEvent extends Event {
  readonly #message: string;
  readonly #filename: string;
  readonly #lineno: number;
  readonly #colno: number;
  readonly #error: unknown;
  readonly #code: number;
  readonly #id: string;

  /** Creates an `error` event for a failure that caused close code `code`. */
  constructor(message: string, code: number, error?: unknown, id?: string);
  /** Creates an event of `type`, as `new ErrorEvent(type, init)` does. */
  constructor(type: string, init?: ErrorEventInit);
  constructor(
    first: string,
    second?: number | ErrorEventInit,
    error?: unknown,
    id?: string,
  ) {
    if (arguments.length === 0) {
      throw new TypeError(
        "Failed to construct 'ErrorEvent': 1 argument required",
      );
    }
    if (typeof second === "number") {
      super("error");
      this.#message = String(first);
      this.#code = second;
      this.#error = error;
      this.#id = id ?? "";
      this.#filename = "";
      this.#lineno = 0;
      this.#colno = 0;
      return;
    }
    if (second !== null && second !== undefined && typeof second !== "object") {
      throw new TypeError("ErrorEventInit must be an object");
    }
    super(first, second ?? undefined);
    const dict = second ?? {};
    this.#message = dict.message === undefined ? "" : String(dict.message);
    this.#filename = dict.filename === undefined
      ? ""
      : toUSVString(dict.filename);
    this.#lineno = toUnsigned(dict.lineno ?? 0, 32);
    this.#colno = toUnsigned(dict.colno ?? 0, 32);
    this.#error = dict.error;
    this.#code = toUnsigned(dict.code ?? 0, 16);
    this.#id = dict.id === undefined ? "" : String(dict.id);
  }

  /** Why the connection failed, or what threw. */
  get message(): string {
    return this.#message;
  }

  /** Always "" (no script is involved). */
  get filename(): string {
    return this.#filename;
  }

  /** Always 0 (no script is involved). */
  get lineno(): number {
    return this.#lineno;
  }

  /** Always 0 (no script is involved). */
  get colno(): number {
    return this.#colno;
  }

  /**
   * The exception that caused it, if one did: thrown by `onMessage` or a
   * listener, or (id `WS_ERR_INTERNAL`) the bug in wskit or an extension
   * that failed the connection (the core event's `cause`).
   */
  get error(): unknown {
    return this.#error;
  }

  /**
   * The close code the failure caused (1006 when none was sent); 0 when
   * the connection did not fail: a listener threw (see `WebSocket`'s
   * class doc) and the socket stays open.
   */
  get code(): number {
    return this.#code;
  }

  /**
   * Which rule the failure broke or what ended it, stable across versions
   * (match on it, not on `message`): a key of `ERROR_IDS` in
   * core/errors.ts, e.g. `"WS_ERR_INVALID_UTF8"`, `"WS_ERR_HANDSHAKE_TIMEOUT"`.
   * `""` when the connection did not fail (`code` 0: a listener threw).
   */
  get id(): string {
    return this.#id;
  }

  static {
    makeEnumerable(this.prototype, [
      "message",
      "filename",
      "lineno",
      "colno",
      "error",
      "code",
      "id",
    ]);
    nameInterface(this, "ErrorEvent");
  }
}
