/**
 * The Bun adapter: `Bun.connect`/`Bun.listen` sockets (TCP or TLS) as wskit
 * transports.
 *
 * Bun sockets differ from Node's in two ways this file exists to hide.
 * Events go to one handler object shared by all sockets of a listener (or
 * given to `Bun.connect`), so each socket's `data` field points back at its
 * {@linkcode BunTransport}. And `socket.write()` does not buffer: it returns
 * how many bytes the kernel took, so the transport keeps the rest in its own
 * queue and retries on `drain`. `Bun` is only touched inside functions, so
 * this module loads (but does not run) on Node and Deno.
 *
 * @example
 * ```ts
 * import { bunRuntime } from "./bun.ts";
 *
 * const listener = await bunRuntime.listen({ port: 0 }, (transport) => {
 *   transport.handlers = {
 *     data: (chunk) => transport.write(chunk), // echo
 *     drain() {},
 *     close() {},
 *   };
 * });
 * console.log(`listening on ${listener.hostname}:${listener.port}`);
 * await listener.close();
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
import { HIGH_WATER_MARK, unbracket } from "./util.ts";

/** A Bun socket whose `data` is the transport it belongs to. */
type BunSocket = Bun.Socket<BunTransport | undefined>;

/** Socket event handlers, as `Bun.connect` and `Bun.listen` take them. */
type SocketHandlers = Bun.SocketHandler<BunTransport | undefined>;

/** Handlers for `Bun.connect`; `listen` adds its own `open` to them. */
let clientHandlers: SocketHandlers;

/** Makes a client transport, before its socket exists. */
let pendingTransport: (verify: boolean) => BunTransport;

/** Reports a failed connection attempt (ignored if already closed). */
let failTransport: (transport: BunTransport, error: Error) => void;

/** Wraps a socket accepted by `Bun.listen`. */
let acceptedTransport: (socket: BunSocket) => BunTransport;

/**
 * A Bun TCP or TLS socket as a wskit transport. Made by
 * {@linkcode bunRuntime}'s `connect` and `listen`; a client transport
 * accepts writes, `pause()`, `end()` and `destroy()` before the connection
 * is open and applies them when it is.
 */
export class BunTransport implements Transport {
  handlers: TransportHandlers = NO_HANDLERS;
  #socket: BunSocket | undefined;
  /** Bytes not yet taken by `socket.write`, oldest first. */
  #queue: Uint8Array[] = [];
  #buffered = 0;
  #paused = false;
  /** `end()` was called: shut down once the queue is empty. */
  #ending = false;
  /** We sent EOF. */
  #shutDown = false;
  /** The peer sent EOF. */
  #peerEnded = false;
  #closed = false;
  /** A client that must reject a server whose certificate did not verify. */
  #verify = false;
  /** An error seen before the socket closed, reported with `close`. */
  #error: Error | undefined;
  #remoteAddress: string | undefined;

  /**
   * Creates a transport with no socket yet; {@linkcode bunRuntime}'s
   * `connect` and `listen` attach one. (Bun's socket type stays out of the
   * public API, so the declarations need no Bun types.)
   */
  constructor() {}

  get buffered(): number {
    return this.#buffered;
  }

  get remoteAddress(): string | undefined {
    return this.#remoteAddress;
  }

  write(chunk: Uint8Array): boolean {
    if (this.#closed || this.#ending) return false;
    const socket = this.#socket;
    if (socket !== undefined && this.#buffered === 0) {
      const written = socket.write(chunk);
      if (written === chunk.length) return true;
      if (written < 0) return false; // closing: `close` follows
      chunk = chunk.subarray(written);
    }
    if (chunk.length === 0) return this.#buffered < HIGH_WATER_MARK;
    this.#queue.push(chunk);
    this.#buffered += chunk.length;
    return this.#buffered < HIGH_WATER_MARK;
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    if (!this.#closed) this.#socket?.pause();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (!this.#closed) this.#socket?.resume();
  }

  end(): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    if (this.#socket !== undefined && this.#buffered === 0) this.#shutdown();
  }

  destroy(): void {
    if (this.#closed) return;
    const socket = this.#socket;
    this.#finish(undefined);
    socket?.terminate();
  }

  /** Binds the now open `socket` and sends what was queued before. */
  #open(socket: BunSocket): void {
    this.#socket = socket;
    socket.data = this;
    this.#remoteAddress = socket.remoteAddress;
    if (this.#closed) { // destroy() came first
      socket.terminate();
      return;
    }
    if (this.#verify && !socket.authorized) {
      // Bun opens the socket anyway, then closes it without a reason.
      this.#error = socket.getAuthorizationError() ??
        new Error("TLS server certificate verification failed");
      this.#fail();
      return;
    }
    socket.setNoDelay(true);
    if (this.#paused) socket.pause();
    this.#flush();
  }

  /** Closes at once and reports the error recorded in `#error`. */
  #fail(): void {
    const socket = this.#socket;
    this.#finish(this.#error);
    socket?.terminate();
  }

  /** Writes queued bytes until the socket stops taking them. */
  #flush(): void {
    const socket = this.#socket;
    if (socket === undefined || this.#closed) return;
    if (this.#buffered > 0) {
      const queue = this.#queue;
      while (queue.length > 0) {
        // Any run of chunks up to 64 KiB goes out as one write: a copy
        // costs less than a system call per chunk.
        const chunk = takeBatch(queue, Infinity);
        const written = socket.write(chunk);
        if (written < 0) return; // closing: `close` follows
        this.#buffered -= Math.min(written, chunk.length);
        if (written < chunk.length) {
          queue.unshift(chunk.subarray(written));
          return; // the rest goes on `drain`
        }
      }
      if (!this.#ending) {
        this.handlers.drain(); // may call `end()`, which then shuts down
        return;
      }
    }
    if (this.#ending) this.#shutdown();
  }

  /** Sends EOF (once); if the peer's EOF came already, closes. */
  #shutdown(): void {
    if (this.#shutDown || this.#closed) return;
    this.#shutDown = true;
    const socket = this.#socket!;
    if (this.#peerEnded) socket.end();
    else socket.shutdown();
  }

  /** Reports `close` once, on a microtask (never inside a caller's call). */
  #finish(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#buffered = 0;
    queueMicrotask(() => this.handlers.close(error));
  }

  static {
    const handlers: SocketHandlers = {
      binaryType: "uint8array",
      data(socket, chunk) {
        // Each call gets a fresh buffer from Bun (checked on Bun 1.4), so the
        // chunk can be handed over without a copy.
        const transport = socket.data;
        if (transport !== undefined && !transport.#closed) {
          transport.handlers.data(chunk);
        }
      },
      drain(socket) {
        const transport = socket.data;
        if (transport !== undefined) transport.#flush();
      },
      end(socket) {
        // The peer half-closed: finish sending, then close our side too.
        const transport = socket.data;
        if (transport === undefined || transport.#closed) return;
        transport.#peerEnded = true;
        // Our EOF went out already: both sides are done. Else send it (and
        // close) once the queue is empty.
        if (transport.#shutDown) socket.end();
        else transport.end();
      },
      close(socket, error) {
        const transport = socket.data;
        if (transport !== undefined) {
          transport.#finish(error ?? transport.#error);
        }
      },
      error(socket, error) {
        // A TLS failure, or one of our handlers threw: fail this connection.
        const transport = socket.data;
        if (transport === undefined || transport.#closed) {
          queueMicrotask(() => {
            throw error;
          });
          return;
        }
        transport.#error ??= error;
        transport.#fail();
      },
      connectError(socket, error) {
        const transport = socket.data;
        if (transport !== undefined) transport.#finish(error);
      },
      open(socket) {
        const transport = socket.data;
        if (transport !== undefined) transport.#open(socket);
      },
    };
    clientHandlers = handlers;
    pendingTransport = (verify) => {
      const transport = new BunTransport();
      transport.#verify = verify;
      return transport;
    };
    failTransport = (transport, error) => transport.#finish(error);
    acceptedTransport = (socket) => {
      const transport = new BunTransport();
      transport.#open(socket);
      return transport;
    };
  }
}

function connect(options: ConnectOptions): Transport {
  const { port } = options;
  const hostname = unbracket(options.hostname);
  const tls = options.tls;
  const verify = tls !== undefined && tls.rejectUnauthorized !== false;
  const transport = pendingTransport(verify);
  try {
    Bun.connect<BunTransport | undefined>({
      hostname,
      port,
      data: transport,
      allowHalfOpen: true,
      tls: tls === undefined ? undefined : {
        ca: tls.ca,
        rejectUnauthorized: tls.rejectUnauthorized ?? true,
        serverName: tls.servername ?? hostname,
      },
      socket: clientHandlers,
    }).catch((error: Error) => failTransport(transport, error)); // `connectError` usually came first
  } catch (error) {
    failTransport(transport, error as Error);
  }
  return transport;
}

function listen(
  options: ListenOptions,
  accept: (transport: Transport) => void,
): Promise<Listener> {
  const hostname = options.hostname ?? "127.0.0.1";
  const bindTo = unbracket(hostname);
  let listener: Bun.TCPSocketListener<BunTransport | undefined>;
  try {
    listener = Bun.listen<BunTransport | undefined>({
      hostname: bindTo,
      port: options.port ?? 0,
      allowHalfOpen: true,
      tls: options.tls === undefined
        ? undefined
        : { cert: options.tls.cert, key: options.tls.key },
      socket: {
        ...clientHandlers,
        open(socket) {
          accept(acceptedTransport(socket));
        },
      },
    });
  } catch (error) {
    return Promise.reject(error);
  }
  return Promise.resolve({
    port: listener.port,
    hostname,
    close(): Promise<void> {
      // `false`: sockets already accepted stay open.
      listener.stop(false);
      return Promise.resolve();
    },
  });
}

/** The Bun runtime adapter. */
export const bunRuntime: Runtime = {
  name: "bun",
  connect,
  listen,
  deflate: zlibCodec,
};
