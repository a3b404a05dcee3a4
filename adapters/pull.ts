/**
 * One transport for every promise-based byte pipe: a Deno connection, a
 * WHATWG stream pair, anything that can `read`, `write`, `closeWrite` and
 * `close` (a {@linkcode PullPipe}). {@linkcode PullTransport} turns such a
 * pipe into a wskit `Transport`: a read loop that stops while paused, a
 * write loop that merges small chunks, the half-close of `end()`, and one
 * `close` report whatever ends it. `DenoTransport` and `StreamTransport` are
 * thin subclasses.
 *
 * @example
 * ```ts
 * import { type PullPipe, PullTransport } from "./pull.ts";
 *
 * // A pipe that says "hi" and then ends.
 * let said = false;
 * const pipe: PullPipe = {
 *   read: () => Promise.resolve(said ? null : (said = true, 2)),
 *   chunk: () => new Uint8Array([104, 105]),
 *   write: () => Promise.resolve(),
 *   closeWrite: () => Promise.resolve(),
 *   close() {},
 * };
 * const transport = new PullTransport(pipe);
 * transport.handlers = {
 *   data: (chunk) => console.log(new TextDecoder().decode(chunk)), // "hi"
 *   drain() {},
 *   close: (error) => console.log("closed", error), // "closed undefined"
 * };
 * ```
 *
 * @module
 */

import {
  NO_HANDLERS,
  type Transport,
  type TransportHandlers,
} from "./transport.ts";
import { takeBatch } from "./batch.ts";
import { HIGH_WATER_MARK, toError } from "./util.ts";

/**
 * A byte pipe whose operations return promises. One `read` and one `write`
 * are pending at a time at most; a rejection ends the transport with that
 * error.
 */
export interface PullPipe {
  /**
   * Waits for the next bytes from the peer: resolves with how many arrived
   * (then `chunk()` gives them), or null once the peer has ended its side
   * (EOF). A count rather than the bytes, so that a pipe over a
   * `read(buffer)` call (`Deno.Conn`) returns that call's promise as it is:
   * an idle connection's pending read keeps no frame or promise of ours.
   */
  read(): Promise<number | null>;
  /**
   * The `n` bytes of the read that just resolved with `n`. They are handed
   * over: the pipe must not write into them later.
   */
  chunk(n: number): Uint8Array;
  /**
   * Sends `bytes`; resolves once the pipe can take more, with the number of
   * bytes it took when that may be fewer than all (a partial write: the
   * transport then writes the rest), or with nothing when it took them all.
   */
  write(bytes: Uint8Array): Promise<number | void>;
  /**
   * Ends the sending side (FIN, TLS close_notify, closing a writable).
   * `peerEnded`: the peer's EOF has been read already.
   */
  closeWrite(peerEnded: boolean): Promise<void>;
  /**
   * Releases the pipe at once, dropping what is in flight; never throws.
   * `reason` is the error that ended the transport, if any (a pipe may pass
   * it on to the peer).
   */
  close(reason?: Error): void;
  /** The peer's address, if known. */
  readonly remoteAddress?: string;
}

/**
 * A {@linkcode PullPipe} as a wskit `Transport`.
 *
 * Reading: one `read()` at a time, and none while paused (so a network's
 * backpressure reaches the peer); what a read returns while paused is held
 * until `resume()`, and nothing from the read side (data, EOF, errors) is
 * reported in between.
 *
 * Writing: `write()` queues; one loop hands the pipe a write at a time,
 * merging runs of small chunks (`takeBatch`) and retrying partial writes.
 * `buffered` counts what the pipe has not taken yet, `write()` returns false once it reaches the
 * high-water mark, and `drain` is reported each time the queue empties.
 *
 * Ending: `end()` flushes the queue, half-closes (`closeWrite`), and
 * finishes when the peer's EOF arrives: there is no timer here, the owner
 * calls `destroy()` if the peer takes too long. An EOF from the peer flushes
 * what is queued, half-closes and finishes. `close` is reported exactly
 * once, on a later microtask, with an error when a pipe operation failed.
 */
export class PullTransport implements Transport {
  /** Where events go; set by the owner right after construction. */
  handlers: TransportHandlers = NO_HANDLERS;
  #pipe: PullPipe | undefined;
  readonly #highWaterMark: number;
  #queue: Uint8Array[] = [];
  #buffered = 0;
  #writing = false;
  #ending = false;
  #halfClosed = false;
  #peerEnded = false;
  #closed = false;
  #paused = false;
  #held = false;
  #wake: (() => void) | undefined;

  /**
   * Wraps `pipe`, or a promise of one: writes queue until it settles, and a
   * rejection is reported as `close(error)`. Reading starts at once, but
   * data is only reported on a later microtask, after `handlers` is set.
   * `write()` returns false once `highWaterMark` bytes wait (default 64 KiB).
   */
  constructor(
    pipe: PullPipe | Promise<PullPipe>,
    highWaterMark: number = HIGH_WATER_MARK,
  ) {
    this.#highWaterMark = highWaterMark;
    if (pipe instanceof Promise) {
      pipe.then(
        (opened) => this.#attach(opened),
        (error) => this.#finish(toError(error)),
      );
    } else {
      this.#attach(pipe);
    }
  }

  /** Queues `chunk`; false once the high-water mark is reached (or after end/close). */
  write(chunk: Uint8Array): boolean {
    if (this.#closed || this.#ending) return false;
    if (chunk.byteLength > 0) {
      this.#queue.push(chunk);
      this.#buffered += chunk.byteLength;
      this.#startWriting();
    }
    return this.#buffered < this.#highWaterMark;
  }

  /** Bytes accepted by `write` and not yet taken by the pipe. */
  get buffered(): number {
    return this.#buffered;
  }

  /** The peer's address, as the pipe reports it. */
  get remoteAddress(): string | undefined {
    return this.#pipe?.remoteAddress;
  }

  /** Stops reading until `resume()`. */
  pause(): void {
    this.#paused = true;
  }

  /** Resumes reading (unless held). */
  resume(): void {
    this.#paused = false;
    if (!this.#held) this.#wakeUp();
  }

  /** Holds reading (like `pause()`, independently of it) until `hold(false)`. */
  hold(on: boolean): void {
    this.#held = on;
    if (!on && !this.#paused) this.#wakeUp();
  }

  /** Sends what is queued, half-closes, and closes on the peer's EOF. */
  end(): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    this.#maybeShutdown();
  }

  /** Closes at once, dropping what is queued. */
  destroy(): void {
    this.#finish();
  }

  /**
   * Ends the transport with `error` (made an `Error` if it is not one):
   * for a subclass that learns of a failure outside the pipe's operations.
   */
  protected fail(error: unknown): void {
    this.#finish(toError(error));
  }

  /**
   * Called once, when the transport finishes, after the pipe was closed and
   * before `close` is reported (which happens on a later microtask).
   */
  protected released(_error: Error | undefined): void {}

  /** Called when `closeWrite` has resolved and the peer has not ended yet. */
  protected afterCloseWrite(): void {}

  #attach(pipe: PullPipe): void {
    if (this.#closed) {
      pipe.close(); // destroyed while connecting
      return;
    }
    this.#pipe = pipe;
    this.#readLoop(pipe);
    if (this.#queue.length > 0) this.#startWriting();
    else this.#maybeShutdown();
  }

  async #readLoop(pipe: PullPipe): Promise<void> {
    while (!this.#closed) {
      if (this.#paused || this.#held) {
        await this.#resumed();
        continue;
      }
      let n: number | null;
      try {
        n = await pipe.read();
      } catch (error) {
        this.#finish(toError(error)); // ignored if we closed it ourselves
        return;
      }
      // Hold what arrived while paused until resumed.
      while ((this.#paused || this.#held) && !this.#closed) {
        await this.#resumed();
      }
      if (this.#closed) return;
      if (n === null) {
        this.#peerEnded = true;
        this.#ending = true;
        this.#maybeShutdown();
        return;
      }
      const chunk = pipe.chunk(n);
      if (chunk.byteLength > 0) this.handlers.data(chunk);
    }
  }

  #resumed(): Promise<void> {
    return new Promise((resolve) => (this.#wake = resolve));
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #startWriting(): void {
    const pipe = this.#pipe;
    if (pipe === undefined || this.#writing) return;
    this.#writing = true;
    // Start on the next microtask, so writes made in the same turn merge.
    queueMicrotask(() => this.#writeLoop(pipe));
  }

  async #writeLoop(pipe: PullPipe): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const bytes = takeBatch(this.#queue);
        let offset = 0;
        while (offset < bytes.byteLength) {
          const rest = offset === 0 ? bytes : bytes.subarray(offset);
          const taken = (await pipe.write(rest)) ?? rest.byteLength;
          if (this.#closed) return;
          offset += taken;
          this.#buffered -= taken;
        }
      }
    } catch (error) {
      this.#finish(toError(error));
      return;
    }
    this.#writing = false;
    if (this.#closed) return;
    this.handlers.drain();
    this.#maybeShutdown();
  }

  /** Once ending and flushed: half-close, then finish when the peer is done. */
  #maybeShutdown(): void {
    const pipe = this.#pipe;
    if (
      this.#closed || !this.#ending || pipe === undefined || this.#writing ||
      this.#queue.length > 0
    ) return;
    if (this.#halfClosed) {
      if (this.#peerEnded) this.#finish();
      return;
    }
    this.#halfClosed = true;
    pipe.closeWrite(this.#peerEnded).then(
      () => {
        if (this.#closed) return;
        if (this.#peerEnded) this.#finish();
        else this.afterCloseWrite();
      },
      (error) => this.#finish(toError(error)),
    );
  }

  /** Closes everything once; reports `close` on a later microtask. */
  #finish(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#buffered = 0;
    this.#wakeUp();
    this.#pipe?.close(error);
    this.released(error);
    queueMicrotask(() => this.handlers.close(error));
  }
}
