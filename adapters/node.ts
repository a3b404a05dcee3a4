/**
 * The Node.js adapter: `net`/`tls` sockets as wskit transports and a
 * server over `net.createServer`/`tls.createServer` ({@linkcode nodeRuntime}).
 * `attach()` lives in the `./node` entry point (`node.ts`).
 *
 * @example
 * ```ts
 * import { nodeRuntime } from "./node.ts";
 * nodeRuntime.name; // "node"
 * ```
 *
 * @module
 */

import * as net from "node:net";
import process from "node:process";
import * as tls from "node:tls";
import {
  type ConnectOptions,
  type Listener,
  type ListenOptions,
  NO_HANDLERS,
  type Runtime,
  type Transport,
  type TransportHandlers,
} from "./transport.ts";
import { zlibCodec } from "./deflate.ts";
import { HIGH_WATER_MARK, unbracket } from "./util.ts";

/**
 * The socket's transport. The socket listeners are shared functions that
 * find their transport here, rather than closures per connection (which
 * cost an idle connection ~330 bytes).
 */
const OWNER: unique symbol = Symbol("wskit.transport");
type Owned = net.Socket & { [OWNER]: NodeTransport };

function onData(this: Owned, chunk: Uint8Array): void {
  // Hand on plain Uint8Array views (not Buffers), as the other runtimes do.
  this[OWNER].handlers.data(
    new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
  );
}
function onDrain(this: Owned): void {
  this[OWNER].handlers.drain();
}
function onError(): void {
  // Reported through "close" (with `socket.errored`).
}
function onEnd(this: Owned): void {
  this.end();
}
/** Set in `NodeTransport`'s static block: it reads a private field. */
let onClose: (this: Owned) => void;

/** A Node `net.Socket` (or `tls.TLSSocket`) as a wskit transport. */
export class NodeTransport implements Transport {
  handlers: TransportHandlers = NO_HANDLERS;
  readonly #socket: net.Socket;
  #closed = false;
  #corked = false;

  /** Wraps `socket`; reading starts on the next turn or when handlers are set. */
  constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    (socket as Owned)[OWNER] = this;
    socket.on("data", onData);
    socket.on("drain", onDrain);
    socket.on("error", onError);
    socket.on("close", onClose);
    socket.on("end", onEnd);
  }

  static {
    onClose = function (this: Owned): void {
      const transport = this[OWNER];
      if (transport.#closed) return;
      transport.#closed = true;
      const error = (this as { errored?: Error | null }).errored;
      transport.handlers.close(error ?? undefined);
    };
  }

  write(chunk: Uint8Array): boolean {
    const socket = this.#socket;
    if (socket.destroyed) return false;
    if (!this.#corked) {
      // Hold this turn's writes and send them together (one writev).
      this.#corked = true;
      socket.cork();
      process.nextTick(NodeTransport.#uncork, this);
    }
    socket.write(chunk);
    return socket.writableLength < HIGH_WATER_MARK;
  }

  static #uncork(transport: NodeTransport): void {
    transport.#corked = false;
    transport.#socket.uncork();
  }

  get buffered(): number {
    return this.#socket.writableLength;
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  end(): void {
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }
}

function connect(options: ConnectOptions): Transport {
  const { hostname, port } = options;
  const host = unbracket(hostname);
  if (options.tls === undefined) {
    return new NodeTransport(net.connect({ host, port }));
  }
  const servername = options.tls.servername ??
    (net.isIP(host) ? undefined : host);
  const socket = tls.connect({
    host,
    port,
    servername,
    ca: options.tls.ca,
    rejectUnauthorized: options.tls.rejectUnauthorized ?? true,
    ALPNProtocols: ["http/1.1"],
  });
  return new NodeTransport(socket);
}

function listen(
  options: ListenOptions,
  accept: (transport: Transport) => void,
): Promise<Listener> {
  const onSocket = (socket: net.Socket) => accept(new NodeTransport(socket));
  const server = options.tls === undefined
    ? net.createServer(onSocket)
    : tls.createServer(
      { cert: options.tls.cert, key: options.tls.key },
      onSocket,
    );
  const hostname = options.hostname ?? "127.0.0.1";
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, hostname, () => {
      server.off("error", reject);
      const address = server.address() as net.AddressInfo;
      resolve({
        port: address.port,
        hostname,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
          }),
      });
    });
  });
}

/** The Node.js runtime adapter. */
export const nodeRuntime: Runtime = {
  name: "node",
  connect,
  listen,
  deflate: zlibCodec,
};
