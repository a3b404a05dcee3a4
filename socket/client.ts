/**
 * The client side of `new WebSocket(url, protocols, options)`: the HTML
 * constructor steps (URL and protocol list checks, which throw a
 * `SyntaxError` DOMException), then a client connection on a transport from
 * the runtime adapter, ready for the socket to own.
 *
 * @example
 * ```ts
 * import { openClient } from "./client.ts";
 * import { nodeRuntime } from "../adapters/node.ts";
 *
 * const { driver, setup } = openClient("ws://127.0.0.1:8080/", "chat", {
 *   runtime: nodeRuntime,
 * });
 * console.log(setup.url, driver.connection.state); // ws://127.0.0.1:8080/ 0
 * driver.destroy();
 * ```
 *
 * @module
 */

import { Connection } from "../core/connection.ts";
import { LocalError } from "../core/errors.ts";
import type { Runtime } from "../adapters/transport.ts";
import { Driver } from "./driver.ts";
import {
  type SocketSetup,
  type WebSocketOptions,
  withPerMessageDeflate,
} from "./options.ts";
import { resolveUrl, toProtocols } from "./webidl.ts";

let defaultRuntime: (() => Runtime) | undefined;

/**
 * Sets how `new WebSocket(url)` finds a runtime adapter when
 * `options.runtime` is not given. `mod.ts` sets it to `currentRuntime`;
 * this module does not import the runtime adapters itself, so that it (and
 * `adapters/streams.ts`) loads in a browser with no `node:` imports.
 */
export function setDefaultRuntime(resolve: () => Runtime): void {
  defaultRuntime = resolve;
}

/**
 * Checks the constructor's arguments, makes the client connection and
 * connects its transport. Returns the driver (with no owner yet) and the
 * setup for the socket that takes it over.
 */
export function openClient(
  url: unknown,
  protocols: unknown,
  options: WebSocketOptions,
): { driver: Driver; setup: SocketSetup } {
  const target = resolveUrl(url);
  const offered = toProtocols(protocols);
  const runtime = options.runtime ?? defaultRuntime?.();
  let conn: Connection;
  try {
    conn = Connection.client(target, {
      ...options,
      suspendable: true, // the socket runs the `suspend` jobs
      protocols: offered,
      handshakeTimeout: options.connectTimeout ?? options.handshakeTimeout,
      extensionNegotiators: withPerMessageDeflate(
        options.extensionNegotiators,
        options.perMessageDeflate,
        runtime?.deflate,
      ),
    });
  } catch (error) {
    // A bad URL, protocol list or header option: what browsers throw.
    if (error instanceof LocalError) {
      throw new DOMException(error.message, "SyntaxError");
    }
    throw error;
  }
  if (runtime === undefined) {
    throw new TypeError(
      "wskit: no runtime adapter: import WebSocket from wskit's mod.ts, " +
        "or pass options.runtime (over a stream pair: connectStream())",
    );
  }
  const secure = target.protocol === "wss:";
  const transport = runtime.connect({
    hostname: target.hostname,
    port: Number(target.port) || (secure ? 443 : 80),
    tls: secure ? (options.tls ?? {}) : undefined,
  });
  return {
    driver: new Driver(conn, transport),
    setup: {
      url: target.href,
      highWaterMark: options.highWaterMark,
      limits: options.limits,
      onMessage: options.onMessage,
      closeOnHandlerError: options.closeOnHandlerError,
    },
  };
}
