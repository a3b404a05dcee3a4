/**
 * The Deno adapter: `Deno.connect`/`Deno.startTls` client connections and
 * `Deno.listen`/`Deno.listenTls` listeners as wskit transports. It is pure
 * plumbing: a read loop that stops while paused (so TCP backpressure reaches
 * the peer), a single writer loop over a byte-counted queue, and one `close`
 * report per transport whatever ends it.
 *
 * The module only touches `Deno` inside functions, so it loads (without
 * running) on Node.js and Bun too. It describes the few Deno APIs it uses with
 * local structural types, so `tsc` can check it without Deno's declarations.
 *
 * @example
 * ```ts
 * import { denoRuntime } from "./deno.ts";
 *
 * const listener = await denoRuntime.listen({ port: 0 }, (transport) => {
 *   transport.handlers = {
 *     data: (chunk) => transport.write(chunk), // echo the bytes back
 *     drain: () => {},
 *     close: () => {},
 *   };
 * });
 * const client = denoRuntime.connect({
 *   hostname: "127.0.0.1",
 *   port: listener.port,
 * });
 * client.handlers = {
 *   data: (chunk) => {
 *     console.log(new TextDecoder().decode(chunk));
 *     client.end();
 *   },
 *   drain: () => {},
 *   close: () => listener.close(),
 * };
 * client.write(new TextEncoder().encode("hello"));
 * ```
 *
 * @module
 */

import {
  type ConnectOptions,
  type Listener,
  type ListenOptions,
  NO_HANDLERS,
  type Runtime,
  type Transport,
  type TransportHandlers,
} from "./transport.ts";
import { takeBatch } from "./batch.ts";
import { zlibCodec } from "./deflate.ts";

/** Queued bytes past which `write` reports backpressure. */
const HIGH_WATER_MARK = 64 * 1024;
/** The smallest and largest read buffers (see {@linkcode DenoTransport}). */
const MIN_READ_SIZE = 2 * 1024;
const MAX_READ_SIZE = 64 * 1024;
/** Reads shorter than this are copied out, so the read buffer is reused. */
const COPY_BELOW = 4 * 1024;
/** After `end()` has sent everything, how long to wait for the peer's EOF. */
const END_TIMEOUT_MS = 2000;

/** A network address as Deno reports it (`Deno.Addr` fits). */
export interface DenoAddr {
  /** "tcp", "udp", "unix", ... */
  readonly transport: string;
  /** The host name or IP address, for network addresses. */
  readonly hostname?: string;
  /** The port, for network addresses. */
  readonly port?: number;
}

/**
 * The parts of a Deno connection this adapter uses. `Deno.Conn`,
 * `Deno.TcpConn` and `Deno.TlsConn` all fit.
 */
export interface DenoConn {
  /** Reads into `p`; resolves to the byte count, or null at EOF. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p`; resolves to the byte count written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes the connection. */
  close(): void;
  /** Shuts down the write side (sends FIN, or TLS close_notify). */
  closeWrite(): Promise<void>;
  /** The peer's address. */
  readonly remoteAddr: DenoAddr;
  /** Sets `TCP_NODELAY` (TCP connections only). */
  setNoDelay?(noDelay?: boolean): void;
}

/** The parts of a `Deno.Listener` this adapter uses. */
interface DenoListener {
  accept(): Promise<DenoConn>;
  close(): void;
  readonly addr: DenoAddr;
}

/** The parts of the `Deno` namespace this adapter uses. */
interface DenoNet {
  connect(options: {
    hostname: string;
    port: number;
    signal?: AbortSignal;
  }): Promise<DenoConn>;
  startTls(
    conn: DenoConn,
    options: { hostname: string; caCerts?: string[] },
  ): Promise<DenoConn>;
  listen(options: { hostname: string; port: number }): DenoListener;
  listenTls(options: {
    hostname: string;
    port: number;
    cert: string;
    key: string;
  }): DenoListener;
}

/** The `Deno` global; only ever called inside functions. */
function deno(): DenoNet {
  const ns = (globalThis as { Deno?: DenoNet }).Deno;
  if (ns === undefined) throw new Error("wskit: the Deno adapter needs Deno");
  return ns;
}

/** "[::1]" → "::1"; other host names unchanged. */
function unbracket(hostname: string): string {
  return hostname.startsWith("[") && hostname.endsWith("]")
    ? hostname.slice(1, -1)
    : hostname;
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * A Deno connection as a wskit transport.
 *
 * Reading: a loop reads into a buffer and hands each chunk over; a chunk is
 * never overwritten later (short reads are copied out, long ones keep their
 * buffer and the loop takes a fresh one). The buffer starts at 2 KiB,
 * doubles (to 64 KiB) while reads fill it and halves while they use under
 * an eighth of it, because an idle connection holds its buffer for the
 * whole wait: a fixed 64 KiB made each idle connection cost ~70 KB. While
 * paused no read is
 * pending, so the kernel's receive window fills and the peer is slowed down.
 * Nothing from the read side (data, EOF, errors) is reported while paused.
 *
 * Writing: `write` queues; one writer loop drains the queue, merging runs of
 * small chunks into one write, and retries partial writes. `drain` is called
 * each time the queue empties.
 *
 * Ending: `end()` flushes the queue, half-closes (`closeWrite`), and closes
 * once the peer's EOF arrives (or after two seconds). An EOF from the peer
 * flushes what is queued and then closes. `close` is reported exactly once,
 * asynchronously, with an error for resets, write failures and failed
 * connects, without one otherwise.
 */
export class DenoTransport implements Transport {
  /** Where events go; set by the owner right after construction. */
  handlers: TransportHandlers = NO_HANDLERS;
  #conn: DenoConn | undefined;
  #abort: AbortController | undefined;
  #remoteAddress: string | undefined;
  #queue: Uint8Array[] = [];
  #buffered = 0;
  #writing = false;
  #ending = false;
  #halfClosed = false;
  #peerEnded = false;
  #closed = false;
  #paused = false;
  #wake: (() => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Wraps a connection, or a promise of one: writes queue until it settles,
   * and a rejection is reported as `close(error)`. Reading starts at once,
   * but data is only reported on a later turn, after `handlers` is set.
   */
  constructor(conn: DenoConn | Promise<DenoConn>) {
    if (conn instanceof Promise) {
      conn.then(
        (opened) => this.#attach(opened),
        (error) => this.#finish(toError(error)),
      );
    } else {
      this.#attach(conn);
    }
  }

  /**
   * Opens a client connection (`Deno.connect`, then `Deno.startTls` for
   * TLS) and returns its transport at once; see {@linkcode denoRuntime}.
   */
  static connect(options: ConnectOptions): DenoTransport {
    const abort = new AbortController();
    const transport = new DenoTransport(open(options, abort.signal));
    transport.#abort = abort;
    return transport;
  }

  /** Queues `chunk`; false once more than 64 KiB wait (or after end/close). */
  write(chunk: Uint8Array): boolean {
    if (this.#closed || this.#ending) return false;
    if (chunk.byteLength > 0) {
      this.#queue.push(chunk);
      this.#buffered += chunk.byteLength;
      this.#startWriting();
    }
    return this.#buffered < HIGH_WATER_MARK;
  }

  /** Bytes accepted by `write` and not yet handed to the OS. */
  get buffered(): number {
    return this.#buffered;
  }

  /** The peer's IP address, once connected. */
  get remoteAddress(): string | undefined {
    return this.#remoteAddress;
  }

  /** Stops reading until `resume()`. */
  pause(): void {
    this.#paused = true;
  }

  /** Resumes reading. */
  resume(): void {
    this.#paused = false;
    this.#wakeUp();
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

  #attach(conn: DenoConn): void {
    this.#abort = undefined;
    if (this.#closed) {
      closeQuietly(conn); // destroyed while connecting
      return;
    }
    this.#conn = conn;
    try {
      conn.setNoDelay?.(true);
      this.#remoteAddress = conn.remoteAddr.hostname;
    } catch {
      // not a TCP socket, or already gone: the read loop will tell
    }
    this.#readLoop(conn);
    if (this.#queue.length > 0) this.#startWriting();
    else this.#maybeShutdown();
  }

  async #readLoop(conn: DenoConn): Promise<void> {
    let buffer = new Uint8Array(MIN_READ_SIZE);
    while (!this.#closed) {
      if (this.#paused) {
        await this.#resumed();
        continue;
      }
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch (error) {
        this.#finish(toError(error)); // ignored if we closed it ourselves
        return;
      }
      // Hold what arrived while paused until resumed.
      while (this.#paused && !this.#closed) await this.#resumed();
      if (this.#closed) return;
      if (n === null) {
        this.#peerEnded = true;
        this.#ending = true;
        this.#maybeShutdown();
        return;
      }
      const size = buffer.length;
      if (n === size) {
        this.handlers.data(buffer);
        buffer = new Uint8Array(Math.min(2 * size, MAX_READ_SIZE));
      } else if (n < COPY_BELOW) {
        this.handlers.data(buffer.slice(0, n));
        if (n < size / 8 && size > MIN_READ_SIZE) {
          buffer = new Uint8Array(size / 2);
        }
      } else {
        this.handlers.data(buffer.subarray(0, n));
        buffer = new Uint8Array(size);
      }
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
    const conn = this.#conn;
    if (conn === undefined || this.#writing) return;
    this.#writing = true;
    // Start on the next microtask, so writes made in the same turn merge.
    queueMicrotask(() => this.#writeLoop(conn));
  }

  async #writeLoop(conn: DenoConn): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const data = takeBatch(this.#queue);
        let offset = 0;
        while (offset < data.byteLength) {
          const n = await conn.write(
            offset === 0 ? data : data.subarray(offset),
          );
          if (this.#closed) return;
          offset += n;
          this.#buffered -= n;
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

  /** Once ending and flushed: close (peer done) or half-close and wait. */
  #maybeShutdown(): void {
    const conn = this.#conn;
    if (
      this.#closed || !this.#ending || conn === undefined || this.#writing ||
      this.#queue.length > 0
    ) return;
    if (this.#peerEnded) {
      this.#finish();
      return;
    }
    if (this.#halfClosed) return;
    this.#halfClosed = true;
    conn.closeWrite().then(
      () => {
        if (this.#closed) return;
        this.#timer = setTimeout(() => this.#finish(), END_TIMEOUT_MS);
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
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort?.abort();
    this.#abort = undefined;
    this.#wakeUp();
    if (this.#conn !== undefined) closeQuietly(this.#conn);
    queueMicrotask(() => this.handlers.close(error));
  }
}

function closeQuietly(conn: DenoConn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/** Connects (and starts TLS); rejects with a clear error when it cannot. */
async function open(
  options: ConnectOptions,
  signal: AbortSignal,
): Promise<DenoConn> {
  const ns = deno();
  const tls = options.tls;
  if (tls?.rejectUnauthorized === false) {
    throw new Error(
      "wskit: Deno cannot skip TLS certificate verification per connection " +
        "(rejectUnauthorized: false); trust the certificate with `tls.ca`, " +
        "or run Deno with --unsafely-ignore-certificate-errors",
    );
  }
  const hostname = unbracket(options.hostname);
  const tcp = await ns.connect({ hostname, port: options.port, signal });
  if (tls === undefined) return tcp;
  try {
    tcp.setNoDelay?.(true);
    return await ns.startTls(tcp, {
      hostname: unbracket(tls.servername ?? hostname),
      caCerts: tls.ca === undefined ? undefined : [tls.ca].flat(),
    });
  } catch (error) {
    closeQuietly(tcp);
    throw error;
  }
}

function connect(options: ConnectOptions): Transport {
  return DenoTransport.connect(options);
}

function listen(
  options: ListenOptions,
  accept: (transport: Transport) => void,
): Promise<Listener> {
  let listener: DenoListener;
  try {
    const ns = deno();
    const hostname = unbracket(options.hostname ?? "127.0.0.1");
    const port = options.port ?? 0;
    const tls = options.tls;
    listener = tls === undefined
      ? ns.listen({ hostname, port })
      : ns.listenTls({ hostname, port, cert: tls.cert, key: tls.key });
  } catch (error) {
    return Promise.reject(error);
  }
  let open = true;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    let delay = 0;
    while (open) {
      let conn: DenoConn;
      try {
        conn = await listener.accept();
        delay = 0;
      } catch (error) {
        const name = (error as { name?: string }).name;
        if (!open || name === "BadResource" || name === "Interrupted") return;
        // e.g. out of file descriptors: back off, then keep accepting
        delay = Math.min(delay * 2 || 5, 1000);
        await new Promise<void>((resolve) => {
          wake = resolve;
          retry = setTimeout(resolve, delay);
        });
        continue;
      }
      if (!open) {
        closeQuietly(conn);
        return;
      }
      const transport = new DenoTransport(conn);
      try {
        accept(transport);
      } catch (error) {
        transport.destroy();
        reportError(error);
      }
    }
  })();
  const { hostname, port } = listener.addr;
  return Promise.resolve({
    port: port ?? 0,
    hostname: hostname ?? "",
    close(): Promise<void> {
      if (open) {
        open = false;
        if (retry !== undefined) clearTimeout(retry);
        wake?.();
        try {
          listener.close();
        } catch {
          // already closed
        }
      }
      return loop;
    },
  });
}

/**
 * The Deno runtime adapter.
 *
 * - `connect`: TCP via `Deno.connect`; TLS via `Deno.startTls` over it, which
 *   verifies the server against `tls.servername` (default: the host name) —
 *   so SNI and the checked name may differ from the address dialled. Extra
 *   trusted roots come from `tls.ca`. `tls.rejectUnauthorized: false` is not
 *   possible per connection on Deno: the connection fails with an error that
 *   says so (the process-wide `--unsafely-ignore-certificate-errors` flag is
 *   the only way). No ALPN is offered. Bracketed IPv6 hosts are accepted.
 * - `listen`: `Deno.listen`/`Deno.listenTls` (PEM `cert` and `key`), default
 *   address 127.0.0.1; `close()` stops accepting and resolves when the accept
 *   loop has ended, leaving accepted transports open.
 */
export const denoRuntime: Runtime = {
  name: "deno",
  connect,
  listen,
  deflate: zlibCodec,
};
