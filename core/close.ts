/**
 * Close status codes (RFC 6455 §7.4): their names, and which of them may be
 * received on the wire or sent by an application.
 *
 * @module
 */

/** The close codes wskit knows by name. */
export const CloseCode = {
  /** The purpose of the connection was fulfilled. */
  Normal: 1000,
  /** An endpoint is going away (server shutdown, page navigation). */
  GoingAway: 1001,
  /** The peer broke the protocol. */
  ProtocolError: 1002,
  /** A data type the endpoint cannot accept. */
  UnsupportedData: 1003,
  /** Local only: a close frame without a status code was received. */
  NoStatus: 1005,
  /** Local only: the transport closed without a close handshake. */
  Abnormal: 1006,
  /** A message's data was inconsistent with its type (e.g. bad UTF-8). */
  InvalidPayload: 1007,
  /** A message violated the endpoint's policy (limits, rate, origin). */
  PolicyViolation: 1008,
  /** A message or frame was too big to handle. */
  MessageTooBig: 1009,
  /** The client expected an extension the server did not negotiate. */
  MandatoryExtension: 1010,
  /** The server met an unexpected condition. */
  InternalError: 1011,
  /** The service is restarting. */
  ServiceRestart: 1012,
  /** Try again later (temporary overload). */
  TryAgainLater: 1013,
  /** A gateway received an invalid response upstream. */
  BadGateway: 1014,
  /** Local only: the TLS handshake failed. */
  TlsHandshake: 1015,
} as const;

const NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(CloseCode).map(([name, code]) => [code, name]),
);

/**
 * A readable name for a close code: `"Normal"`, `"ProtocolError"`, ...,
 * `"Application"` for 4000–4999, `"Registered"` for 3000–3999, else
 * `"Unknown"`.
 */
export function closeCodeName(code: number): string {
  const name = NAMES.get(code);
  if (name !== undefined) return name;
  if (code >= 4000 && code <= 4999) return "Application";
  if (code >= 3000 && code <= 3999) return "Registered";
  return "Unknown";
}

/**
 * Whether `code` may appear in a received close frame: 1000–1003, 1007–1014
 * and 3000–4999. Everything else (including 1005, 1006 and 1015, which are
 * local-only) is a protocol error.
 */
export function isValidWireCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/** Whether an application may pass `code` to `close()`: 1000 or 3000–4999. */
export function isApplicationCloseCode(code: number): boolean {
  return code === 1000 || (code >= 3000 && code <= 4999);
}
