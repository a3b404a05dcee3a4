/**
 * The client side of the opening handshake (RFC 6455 §4.1): build the
 * upgrade request, check the server's response. Import from
 * ./handshake.ts, which re-exports them.
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "./base64.ts";
import { encodeLatin1, isToken } from "./http.ts";
import type { HttpResponseHead } from "./http.ts";
import { LocalError } from "./errors.ts";
import {
  checkValue,
  type ClientRequest,
  type ClientRequestOptions,
  computeAccept,
  generateKey,
  HandshakeError,
  hasToken,
  headerPairs,
  parseProtocolList,
  serialize,
  type ServerResponseResult,
} from "./handshake_common.ts";

const CLIENT_RESERVED = new Set([
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "sec-websocket-accept",
  "origin",
  "content-length",
  "transfer-encoding",
]);

/**
 * Builds a client upgrade request.
 *
 * `url` must be absolute with scheme `ws:` or `wss:` (`http:`/`https:` are
 * mapped to them, as browsers do) and no fragment. The target is path + query;
 * `Host` carries the port only when it is not the default (80/443), and IPv6
 * hosts are bracketed. Credentials in the URL (`user:pass@`) are sent as
 * `Authorization: Basic …` (percent-decoded, then base64), as browsers do,
 * unless `headers` gives an `Authorization` field of its own.
 *
 * @throws {LocalError} of kind `"syntax"` on a bad URL, invalid or duplicate
 *   subprotocols, bad header names or values (CR/LF injection) or an invalid
 *   `key`; of kind `"argument"` for an extra header that would replace a
 *   handshake field (`Host`, `Upgrade`, `Connection`, `Sec-WebSocket-*`,
 *   `Origin` — use the options).
 */
export function buildClientRequest(
  url: string | URL,
  options: ClientRequestOptions = {},
): ClientRequest {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new LocalError("syntax", `invalid URL: ${String(url)}`);
  }
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  else if (parsed.protocol === "https:") parsed.protocol = "wss:";
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new LocalError(
      "syntax",
      `URL scheme must be ws: or wss:, got ${parsed.protocol}`,
    );
  }
  if (parsed.href.includes("#")) {
    throw new LocalError("syntax", "URL must not have a fragment");
  }

  const raw = options.protocols;
  const protocols = raw === undefined
    ? []
    : typeof raw === "string"
    ? [raw]
    : [...raw];
  const seen = new Set<string>();
  for (const p of protocols) {
    if (typeof p !== "string" || !isToken(p)) {
      throw new LocalError(
        "syntax",
        `invalid subprotocol ${JSON.stringify(p)}`,
      );
    }
    if (seen.has(p)) {
      throw new LocalError("syntax", `duplicate subprotocol "${p}"`);
    }
    seen.add(p);
  }

  let key: string;
  if (options.key !== undefined) {
    if (decodeBase64(options.key)?.length !== 16) {
      throw new LocalError("syntax", "key must be base64 of 16 bytes");
    }
    key = options.key;
  } else {
    key = generateKey();
  }

  const extensions = options.extensions;
  if (extensions !== undefined) {
    checkValue("Sec-WebSocket-Extensions", extensions);
  }
  if (options.origin !== undefined) checkValue("Origin", options.origin);
  const extra = headerPairs(options.headers, CLIENT_RESERVED);

  // URL#host brackets IPv6 and omits the port when it is the scheme default
  // (80 for ws:, 443 for wss:); the scheme switch above keeps that true.
  const host = parsed.host;
  // Special-scheme URLs always have a pathname of at least "/".
  const target = parsed.pathname + parsed.search;

  const fields: [string, string][] = [
    ["Host", host],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", key],
    ["Sec-WebSocket-Version", "13"],
  ];
  if (protocols.length > 0) {
    fields.push(["Sec-WebSocket-Protocol", protocols.join(", ")]);
  }
  if (extensions !== undefined) {
    fields.push(["Sec-WebSocket-Extensions", extensions]);
  }
  if (options.origin !== undefined) fields.push(["Origin", options.origin]);
  if (
    (parsed.username !== "" || parsed.password !== "") &&
    !extra.some(([name]) => name.toLowerCase() === "authorization")
  ) {
    fields.push(["Authorization", basicCredentials(parsed)]);
  }
  fields.push(...extra);

  return {
    bytes: encodeLatin1(serialize(`GET ${target} HTTP/1.1`, fields)),
    key,
    url: parsed,
    protocols,
    extensions,
  };
}

/** The `Basic` credentials value for a URL's (percent-encoded) user info. */
function basicCredentials(url: URL): string {
  const userInfo = percentDecode(url.username + ":" + url.password);
  return "Basic " + encodeBase64(userInfo);
}

/**
 * Percent-decodes `text` to bytes (URL spec): `%XX` is the byte XX, any
 * other `%` stays; other characters are UTF-8 encoded.
 */
function percentDecode(text: string): Uint8Array {
  const raw = new TextEncoder().encode(text);
  const out = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const hi = hexValue(raw[i + 1]);
    const lo = hexValue(raw[i + 2]);
    if (raw[i] === 0x25 && hi >= 0 && lo >= 0) {
      out[n++] = hi * 16 + lo;
      i += 2;
    } else {
      out[n++] = raw[i];
    }
  }
  return out.subarray(0, n);
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Checks a server's response to `request` (RFC 6455 §4.1, client side).
 *
 * @returns The selected subprotocol and the raw extensions value (`""` when
 *   absent). Checking the extensions against the offer is the extension code's job.
 * @throws {HandshakeError} (a `PeerError`) with a distinct message and an
 *   id per failed rule.
 */
export function validateServerResponse(
  head: HttpResponseHead,
  request: ClientRequest,
): ServerResponseResult {
  const h = head.headers;
  if (head.status !== 101) {
    const text = head.statusText ? ` ${head.statusText}` : "";
    throw new HandshakeError(
      `unexpected response status ${head.status}${text} (expected 101)`,
      undefined,
      "WS_ERR_UNEXPECTED_STATUS",
    );
  }
  if (head.version !== "1.1") {
    throw new HandshakeError(
      `HTTP/${head.version} response cannot upgrade (need HTTP/1.1)`,
      undefined,
      "WS_ERR_UNEXPECTED_STATUS",
    );
  }
  const upgrade = h.get("upgrade");
  if (upgrade === undefined) {
    throw new HandshakeError(
      "missing Upgrade header in response",
      undefined,
      "WS_ERR_INVALID_UPGRADE_HEADER",
    );
  }
  const upgrades = parseProtocolList(upgrade);
  if (upgrades.length !== 1 || upgrades[0].toLowerCase() !== "websocket") {
    throw new HandshakeError(
      `invalid Upgrade header in response: ${JSON.stringify(upgrade)}`,
      undefined,
      "WS_ERR_INVALID_UPGRADE_HEADER",
    );
  }
  if (!hasToken(h.get("connection"), "upgrade")) {
    throw new HandshakeError(
      'Connection header in response lacks the "upgrade" option',
      undefined,
      "WS_ERR_INVALID_CONNECTION_HEADER",
    );
  }
  const accept = h.get("sec-websocket-accept");
  if (accept === undefined) {
    throw new HandshakeError(
      "missing Sec-WebSocket-Accept header",
      undefined,
      "WS_ERR_INVALID_ACCEPT",
    );
  }
  if (accept !== computeAccept(request.key)) {
    throw new HandshakeError(
      "Sec-WebSocket-Accept does not match the key",
      undefined,
      "WS_ERR_INVALID_ACCEPT",
    );
  }
  const protocol = h.get("sec-websocket-protocol");
  if (protocol !== undefined) {
    if (request.protocols.length === 0) {
      throw new HandshakeError(
        `server selected subprotocol ${
          JSON.stringify(protocol)
        } but none was offered`,
        undefined,
        "WS_ERR_INVALID_SUBPROTOCOL",
      );
    }
    if (!request.protocols.includes(protocol)) {
      throw new HandshakeError(
        `server selected subprotocol ${
          JSON.stringify(protocol)
        } which was not offered`,
        undefined,
        "WS_ERR_INVALID_SUBPROTOCOL",
      );
    }
  }
  const extensions = h.get("sec-websocket-extensions");
  if (extensions !== undefined && request.extensions === undefined) {
    throw new HandshakeError(
      "server sent Sec-WebSocket-Extensions but none were offered",
      undefined,
      "WS_ERR_INVALID_EXTENSION",
    );
  }
  return { protocol: protocol ?? "", extensions: extensions ?? "" };
}
