/**
 * Guarded listeners for an `EventTarget`: the `on…` handler properties and
 * `addEventListener`, with the DOM's rules (de-duplication by listener and
 * capture flag, `once`, `signal`, `handleEvent` looked up at dispatch), but
 * a listener that throws, or returns a promise that rejects, is reported to
 * its owner instead of reaching the process.
 *
 * @example
 * ```ts
 * import { GuardedListeners } from "./listeners.ts";
 *
 * const target = new EventTarget();
 * const listeners = new GuardedListeners(target, {
 *   listenerThrew(type, error) {
 *     console.log(`a ${type} listener threw`, error);
 *   },
 * });
 * listeners.add("ping", () => {
 *   throw new Error("oops");
 * });
 * target.dispatchEvent(new Event("ping")); // logs, does not throw
 * ```
 *
 * @module
 */

/** The value of an `on…` handler property: a listener, or null for none. */
export type Handler = ((event: Event) => unknown) | null;

/** Told when a listener threw (or its promise rejected). */
export interface ListenerFaults {
  /** A listener for an event of `type` threw `error`. */
  listenerThrew(type: string, error: unknown): void;
}

const addRaw = EventTarget.prototype.addEventListener;
const removeRaw = EventTarget.prototype.removeEventListener;

/**
 * Calls `onReject` if `result` is a thenable that rejects (or whose `then`
 * throws): the asynchronous half of guarding application code.
 */
export function watchResult(
  result: unknown,
  onReject: (error: unknown) => void,
): void {
  if (
    result === null ||
    (typeof result !== "object" && typeof result !== "function")
  ) return;
  try {
    const then = (result as PromiseLike<unknown>).then;
    if (typeof then !== "function") return;
    then.call(result, undefined, onReject);
  } catch (error) {
    onReject(error);
  }
}

/** The guarded listeners of one target; see the module doc. */
export class GuardedListeners {
  readonly #target: EventTarget;
  readonly #faults: ListenerFaults;
  /** Guarded wrappers of the listeners, per capture flag and type. */
  #wrappers:
    | Map<string, Map<EventListenerOrEventListenerObject, EventListener>>
    | undefined;
  /** The `on…` handlers' slots, made when the first one is set. */
  #on: Record<string, { fn: Handler }> | undefined;
  /** Set when an `error` listener runs (cleared by the owner). */
  errorHeard = false;

  /** Guards the listeners of `target`, reporting exceptions to `faults`. */
  constructor(target: EventTarget, faults: ListenerFaults) {
    this.#target = target;
    this.#faults = faults;
  }

  /** The `on<name>` handler, or null. */
  handler(name: string): Handler {
    return this.#on?.[name]?.fn ?? null;
  }

  /**
   * Sets the `on<name>` handler (a non-function clears it). As in the DOM,
   * the handler keeps the place in the listener order where it was first
   * set.
   */
  setHandler(name: string, fn: unknown): void {
    const value = typeof fn === "function" ? fn as Handler : null;
    const slots = this.#on ??= {};
    const slot = slots[name];
    if (slot !== undefined) {
      slot.fn = value;
      return;
    }
    const created = slots[name] = { fn: value };
    const target = this.#target;
    addRaw.call(target, name, (event: Event): void => {
      const fn = created.fn;
      if (fn !== null) this.#invoke(fn, target, event);
    });
  }

  /** `addEventListener`, guarded (see the module doc). */
  add(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    const target = this.#target;
    if (
      listener === null ||
      (typeof listener !== "function" && typeof listener !== "object")
    ) {
      addRaw.call(target, type, listener, options);
      return;
    }
    const key = listenerKey(type, options);
    const signal = typeof options === "object" ? options.signal : undefined;
    if (signal?.aborted) return;
    const wrappers = this.#wrappers ??= new Map();
    let slot = wrappers.get(key);
    if (slot === undefined) wrappers.set(key, slot = new Map());
    let wrapper = slot.get(listener);
    if (wrapper === undefined) {
      const once = typeof options === "object" && options.once === true;
      const made = wrapper = (event: Event): void => {
        if (once) this.#forget(key, listener, made);
        if (typeof listener === "function") {
          this.#invoke(listener, target, event);
        } else {
          this.#invoke(listener.handleEvent, listener, event);
        }
      };
      slot.set(listener, made);
    }
    if (signal !== undefined) {
      const made = wrapper;
      signal.addEventListener(
        "abort",
        () => this.#forget(key, listener, made),
        { once: true },
      );
    }
    addRaw.call(target, type, wrapper, options);
  }

  /** `removeEventListener` for listeners added with {@linkcode add}. */
  remove(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    const slot = this.#wrappers?.get(listenerKey(type, options));
    const wrapper = listener === null ? undefined : slot?.get(listener);
    if (wrapper === undefined) {
      removeRaw.call(this.#target, type, listener, options);
      return;
    }
    slot!.delete(listener!);
    removeRaw.call(this.#target, type, wrapper, options);
  }

  /** Whether a listener for `type` was added with {@linkcode add}. */
  heard(type: string): boolean {
    const wrappers = this.#wrappers;
    if (wrappers === undefined) return false;
    return (wrappers.get("b:" + type)?.size ?? 0) > 0 ||
      (wrappers.get("c:" + type)?.size ?? 0) > 0;
  }

  #forget(
    key: string,
    listener: EventListenerOrEventListenerObject,
    wrapper: EventListener,
  ): void {
    const slot = this.#wrappers?.get(key);
    if (slot?.get(listener) === wrapper) slot.delete(listener);
  }

  /** Calls a listener; reports what it throws or its promise rejects with. */
  #invoke(fn: unknown, self: unknown, event: Event): void {
    const type = event.type;
    if (type === "error") this.errorHeard = true;
    let result: unknown;
    try {
      if (typeof fn !== "function") {
        throw new TypeError(
          `the "${type}" listener's handleEvent is not a function`,
        );
      }
      result = fn.call(self, event);
    } catch (error) {
      this.#faults.listenerThrew(type, error);
      return;
    }
    watchResult(result, (error) => this.#faults.listenerThrew(type, error));
  }
}

/** Where a listener's wrapper is kept: by capture flag and event type. */
function listenerKey(
  type: string,
  options: boolean | EventListenerOptions | undefined,
): string {
  const capture = typeof options === "boolean"
    ? options
    : options?.capture === true;
  return (capture ? "c:" : "b:") + type;
}
