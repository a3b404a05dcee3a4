/**
 * The Deno adapter: `Deno.connect`/`Deno.startTls` client connections and
 * `Deno.listen`/`Deno.listenTls` listeners as wskit transports. It is pure
 * plumbing: a `Deno.Conn` as a {@linkcode PullPipe}, made a transport by the
 * shared {@linkcode PullTransport} (read loop, write loop, half-close, one
 * `close` report), plus the connect and accept loops.
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

import type {
  ConnectOptions,
  Listener,
  ListenOptions,
  Runtime,
  Transport,
} from "./transport.ts";
import { type PullPipe, PullTransport } from "./pull.ts";
import { unbracket } from "./util.ts";
import { zlibCodec } from "./deflate.ts";

export { type PullPipe, PullTransport } from "./pull.ts";

/** The smallest and largest read buffers (see {@linkcode DenoTransport}). */
const MIN_READ_SIZE = 2 * 1024;
const MAX_READ_SIZE = 64 * 1024;
/** Reads shorter than this are copied out, so the read buffer is reused. */
const COPY_BELOW = 4 * 1024;

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

/** A Deno connection as a {@linkcode PullPipe}. */
class DenoPipe implements PullPipe {
  readonly remoteAddress: string | undefined;
  readonly #conn: DenoConn;
  #buffer = new Uint8Array(MIN_READ_SIZE);

  constructor(conn: DenoConn) {
    this.#conn = conn;
    let address: string | undefined;
    try {
      conn.setNoDelay?.(true);
      address = conn.remoteAddr.hostname;
    } catch {
      // not a TCP socket, or already gone: the read loop will tell
    }
    this.remoteAddress = address;
  }

  read(): Promise<number | null> {
    // The call's own promise: no frame of ours waits with an idle read.
    return this.#conn.read(this.#buffer);
  }

  chunk(n: number): Uint8Array {
    const buffer = this.#buffer;
    const size = buffer.length;
    if (n === size) {
      this.#buffer = new Uint8Array(Math.min(2 * size, MAX_READ_SIZE));
      return buffer;
    }
    if (n < COPY_BELOW) {
      if (n < size / 8 && size > MIN_READ_SIZE) {
        this.#buffer = new Uint8Array(size / 2);
      }
      return buffer.slice(0, n);
    }
    this.#buffer = new Uint8Array(size);
    return buffer.subarray(0, n);
  }

  write(bytes: Uint8Array): Promise<number> {
    return this.#conn.write(bytes); // may take fewer: the transport retries
  }

  closeWrite(peerEnded: boolean): Promise<void> {
    // After the peer's EOF, `close()` ends both directions (and a shutdown
    // could fail on a socket the peer has reset): nothing to half-close.
    return peerEnded ? Promise.resolve() : this.#conn.closeWrite();
  }

  close(): void {
    closeQuietly(this.#conn);
  }
}

/**
 * A Deno connection as a wskit transport: a {@linkcode PullTransport} over
 * `read`, `write`, `closeWrite` and `close` of a `Deno.Conn`.
 *
 * Reading: each read's chunk is handed over and never overwritten later
 * (short reads are copied out, long ones keep their buffer and the next
 * read takes a fresh one). The buffer starts at 2 KiB, doubles (to 64 KiB)
 * while reads fill it and halves while they use under an eighth of it,
 * because an idle connection holds its buffer for the whole wait: a fixed
 * 64 KiB made each idle connection cost ~70 KB. While paused no read is
 * pending, so the kernel's receive window fills and the peer is slowed down.
 *
 * Writing merges runs of small chunks into one write and retries partial
 * writes (`buffered` falls as each part is taken). `end()` flushes,
 * half-closes (`closeWrite`) and closes once the peer's EOF arrives,
 * however long that takes: the owner destroys the
 * transport when it stops waiting. `close` is reported exactly once,
 * asynchronously, with an error for resets, write failures and failed
 * connects, without one otherwise.
 */
export class DenoTransport extends PullTransport {
  #abort: AbortController | undefined;

  /**
   * Wraps a connection, or a promise of one: writes queue until it settles,
   * and a rejection is reported as `close(error)`. Reading starts at once,
   * but data is only reported on a later turn, after `handlers` is set.
   */
  constructor(conn: DenoConn | Promise<DenoConn>) {
    super(
      conn instanceof Promise
        ? conn.then((opened) => new DenoPipe(opened))
        : new DenoPipe(conn),
    );
  }

  /**
   * Opens a client connection (`Deno.connect`, then `Deno.startTls` for
   * TLS) and returns its transport at once; see {@linkcode denoRuntime}.
   */
  static connect(options: ConnectOptions): DenoTransport {
    const abort = new AbortController();
    const transport: DenoTransport = new DenoTransport(
      open(options, abort.signal).finally(() => transport.#abort = undefined),
    );
    transport.#abort = abort;
    return transport;
  }

  /** Cancels a connect still in progress. */
  protected override released(): void {
    this.#abort?.abort();
    this.#abort = undefined;
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
