/**
 * The server's handshake hooks and what they may answer: subprotocol
 * choice, the `Origin` allowlist and `authenticate`, each run guarded — a
 * hook that throws, rejects or returns something invalid is reported and
 * answered with a 500, never allowed to hang or crash the server.
 *
 * @example
 * ```ts
 * import { chooseProtocol } from "./hooks.ts";
 *
 * chooseProtocol(["v10.stomp", "v12.stomp"], ["v12.stomp", "v10.stomp"]);
 * // "v12.stomp"
 * ```
 *
 * @module
 */

import type { HeaderInit, UpgradeRequest } from "../core/handshake.ts";
import type { ServeOptions } from "./server.ts";
import type { WebSocket } from "./websocket.ts";

/** A refusal from a handshake hook: an HTTP status with optional body. */
export interface Rejection {
  /** HTTP status, e.g. 401 or 403. */
  status: number;
  /** A short plain-text body. */
  body?: string;
  /** Extra response headers (e.g. `WWW-Authenticate`). */
  headers?: HeaderInit;
}

/**
 * What `authenticate` may answer: true/undefined to allow, false (401) or a
 * rejection (status 400–599, or 300–399 with a `Location` header to
 * redirect). Anything else gets the client a 500 and is reported to
 * `onError`.
 */
export type AuthResult = boolean | void | Rejection;

/** Facts about the peer that hooks can use besides the request. */
export interface PeerInfo {
  /** The peer's address, when known. */
  remoteAddress?: string;
}

/** Where a failure reported to `ServeOptions.onError` came from. */
export interface ErrorContext {
  /**
   * What failed: a handshake hook ("authenticate", "origins", "protocols",
   * "onConnection"), "accept" (invalid `responseHeaders`), "listener" (a
   * socket's event listener threw or its promise rejected) or "onMessage".
   */
  source: string;
  /** For "listener": the type of the event whose listener failed. */
  event?: string;
  /** The upgrade request being decided, when there is one. */
  request?: UpgradeRequest;
  /** The socket concerned, once accepted. */
  socket?: WebSocket;
}

/** Reports a hook's failure (to `ServeOptions.onError`). */
export type Report = (error: unknown, context: ErrorContext) => void;

/**
 * The first of the server's `supported` subprotocols (in its order of
 * preference) that the client `offered`, compared exactly (subprotocol
 * names are case-sensitive); "" if none.
 */
export function selectProtocol(
  offered: readonly string[],
  supported: readonly string[],
): string {
  for (const protocol of supported) {
    if (offered.includes(protocol)) return protocol;
  }
  return "";
}

/** Options for {@linkcode chooseProtocol}. */
export interface ChooseProtocolOptions {
  /**
   * Whose order decides when several protocols are acceptable: `"server"`
   * (the default: the order of `supported`) or `"client"` (the order in
   * which the client offered them).
   */
  preference?: "server" | "client";
}

/**
 * Picks the subprotocol to answer with: one that the client `offered` and
 * the server `supported`, by the server's order of preference or (with
 * `preference: "client"`) the client's. Names compare exactly — subprotocol
 * tokens are case-sensitive, so `"MQTT"` does not match `"mqtt"`. Returns ""
 * when nothing matches. Use it as the `protocols` function of
 * {@linkcode ServeOptions}:
 *
 * @example
 * ```ts
 * import { chooseProtocol } from "./hooks.ts";
 *
 * chooseProtocol(["v10.stomp", "v12.stomp"], ["v12.stomp", "v10.stomp"]);
 * // "v12.stomp" (server preference)
 * chooseProtocol(["v10.stomp", "v12.stomp"], ["v12.stomp", "v10.stomp"], {
 *   preference: "client",
 * }); // "v10.stomp"
 * ```
 */
export function chooseProtocol(
  offered: readonly string[],
  supported: readonly string[],
  options: ChooseProtocolOptions = {},
): string {
  if (options.preference !== "client") {
    return selectProtocol(offered, supported);
  }
  for (const protocol of offered) {
    if (supported.includes(protocol)) return protocol;
  }
  return "";
}

function originAllowed(
  origins: ServeOptions["origins"],
  origin: string | undefined,
): boolean {
  if (origins === undefined) return true;
  if (typeof origins === "function") return origins(origin);
  if (origin === undefined) return true;
  const lower = origin.toLowerCase();
  return origins.some((allowed) => allowed.toLowerCase() === lower);
}

/** The subprotocol to answer with, or a 500 if the `protocols` hook fails. */
export function protocolFor(
  options: ServeOptions,
  request: UpgradeRequest,
  report: Report,
): string | Rejection {
  const protocols = options.protocols ?? [];
  const fault = { status: 500, body: "subprotocol selection failed" };
  let protocol: unknown;
  try {
    protocol = typeof protocols === "function"
      ? protocols(request.protocols, request) || ""
      : selectProtocol(request.protocols, protocols);
  } catch (error) {
    report(error, { source: "protocols", request });
    return fault;
  }
  if (typeof protocol !== "string") {
    const error = new TypeError(`protocols returned a ${typeof protocol}`);
    report(error, { source: "protocols", request });
    return fault;
  }
  if (protocol !== "" && !request.protocols.includes(protocol)) {
    // Sending a name the client did not offer would make every conforming
    // client fail the connection.
    const error = new TypeError(`protocols chose unoffered "${protocol}"`);
    report(error, { source: "protocols", request });
    return {
      status: 500,
      body: "server chose a subprotocol the client did not offer",
    };
  }
  return protocol;
}

/** A 403 for a disallowed origin, a 500 if the `origins` predicate throws. */
export function checkOrigin(
  options: ServeOptions,
  request: UpgradeRequest,
  report: Report,
): Rejection | undefined {
  try {
    if (originAllowed(options.origins, request.origin)) {
      return undefined;
    }
  } catch (error) {
    report(error, { source: "origins", request });
    return { status: 500, body: "origin check failed" };
  }
  return { status: 403, body: "origin not allowed" };
}

/**
 * Runs `authenticate`: undefined to allow, else the rejection to send. A
 * throw, a rejected promise or a result that is not a valid answer (see
 * {@linkcode AuthResult}) is reported and becomes a 500.
 */
export async function authenticate(
  options: ServeOptions,
  request: UpgradeRequest,
  peer: PeerInfo,
  report: Report,
): Promise<Rejection | undefined> {
  const fault = { status: 500, body: "authentication failed" };
  let result: unknown;
  try {
    result = await options.authenticate!(request, peer);
  } catch (error) {
    report(error, { source: "authenticate", request });
    return fault;
  }
  if (result === undefined || result === true) return undefined;
  if (result === false) {
    return { status: 401, body: "authentication required" };
  }
  if (typeof result === "object" && result !== null) {
    const status = (result as { status?: unknown }).status;
    if (
      typeof status === "number" && Number.isInteger(status) &&
      status >= 300 && status <= 599
    ) {
      return result as Rejection; // headers are checked by `reject`
    }
  }
  const error = new TypeError(
    `authenticate returned an invalid result: ${String(result)}`,
  );
  report(error, { source: "authenticate", request });
  return fault;
}
