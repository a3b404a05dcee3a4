/**
 * The small interface every runtime adapter implements: a byte transport
 * (a TCP or TLS socket) with backpressure both ways, plus `connect` and
 * `listen` to make them. Everything above it (the `WebSocket` class, the
 * server, timers) is shared, so the runtime files stay plumbing.
 *
 * @module
 */

import type { DeflateCodec } from "../core/permessage_deflate.ts";

/** Callbacks a transport reports to. Set once, before any data flows. */
export interface TransportHandlers {
  /** Bytes arrived. The chunk is handed over: it must not be reused. */
  data(chunk: Uint8Array): void;
  /** Everything written so far has been handed to the operating system. */
  drain(): void;
  /** The transport closed (EOF, reset, error or `destroy()`); called once. */
  close(error?: Error): void;
}

/** A connected byte stream. */
export interface Transport {
  /** Set by the owner right after the transport is created. */
  handlers: TransportHandlers;
  /**
   * Queues bytes to send; never blocks and never drops. The chunk must not
   * be modified afterwards. Returns false once `buffered` passed the
   * transport's high-water mark (the caller should wait for `drain`).
   */
  write(chunk: Uint8Array): boolean;
  /** Bytes accepted by `write` and not yet handed to the OS. */
  readonly buffered: number;
  /** Stops reading from the peer until `resume()`. */
  pause(): void;
  /** Resumes reading. */
  resume(): void;
  /** Sends what is queued, then closes. `close` is reported when done. */
  end(): void;
  /** Closes at once, dropping what is queued. */
  destroy(): void;
  /** The peer's address, when known. */
  readonly remoteAddress?: string;
}

/** TLS options for a client connection. */
export interface ClientTlsOptions {
  /** Extra trusted CA certificates (PEM). */
  ca?: string | string[];
  /** Verify the server certificate (default true). Not settable on Deno. */
  rejectUnauthorized?: boolean;
  /** The TLS server name (SNI), default the URL's host name. */
  servername?: string;
}

/** Where and how to connect. */
export interface ConnectOptions {
  /** Host name or IP address. */
  hostname: string;
  /** TCP port. */
  port: number;
  /** Use TLS with these options. */
  tls?: ClientTlsOptions;
}

/** TLS material for a server (PEM). */
export interface ServerTlsOptions {
  /** The certificate chain (PEM). */
  cert: string;
  /** The private key (PEM). */
  key: string;
}

/** Where and how to listen. */
export interface ListenOptions {
  /** Address to bind, default "127.0.0.1". */
  hostname?: string;
  /** Port, 0 for any free one. */
  port?: number;
  /** Serve TLS (wss). */
  tls?: ServerTlsOptions;
}

/** A listening socket. */
export interface Listener {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** The bound address. */
  readonly hostname: string;
  /** Stops accepting; existing transports stay open. */
  close(): Promise<void>;
}

/** What a runtime adapter provides. */
export interface Runtime {
  /** The runtime's name: "node", "deno" or "bun". */
  readonly name: string;
  /**
   * Opens a transport. Data flows only after `handlers` is set (the caller
   * sets it in the same turn). Connection failure is reported as
   * `handlers.close(error)`.
   */
  connect(options: ConnectOptions): Transport;
  /** Listens; `accept` is called with each new transport, synchronously. */
  listen(
    options: ListenOptions,
    accept: (transport: Transport) => void,
  ): Promise<Listener>;
  /**
   * A synchronous DEFLATE codec for permessage-deflate (RFC 7692), when the
   * runtime has one (`node:zlib` on Node, Deno and Bun; none in browsers,
   * where the extension is then neither offered nor accepted).
   */
  readonly deflate?: DeflateCodec;
}

/** Handlers that ignore everything; a placeholder until the owner sets its own. */
export const NO_HANDLERS: TransportHandlers = Object.freeze({
  data(): void {},
  drain(): void {},
  close(): void {},
});
