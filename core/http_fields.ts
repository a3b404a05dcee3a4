/**
 * Header fields and hosts for the HTTP/1.1 heads of the opening handshake:
 * {@link HeaderMap} (case-insensitive lookups over the raw field lines), the
 * RFC 9110 token and field-value grammar, Latin-1 encoding, and `Host`
 * validation ({@link parseHost}). `./http.ts` re-exports the public names.
 *
 * @module
 */

import { parseIPv6 } from "./ip.ts";

const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;

/**
 * Header fields of one message.
 *
 * Lookups are case-insensitive. A name that appears on several field lines
 * reads as their values joined with `", "` (RFC 9110 §5.3 list semantics —
 * wrong for `Set-Cookie`, which the handshake never needs; use
 * {@link HeaderMap.getAll} for that). The raw field lines are kept in order with
 * their original name case and are what {@link HeaderMap.entries} yields.
 */
export class HeaderMap {
  readonly #values = new Map<string, string[]>();
  readonly #raw: [string, string][] = [];

  /**
   * Creates a map from `[name, value]` pairs, in order. The pairs are trusted
   * as given (the parser validates before it builds one).
   */
  constructor(init?: Iterable<readonly [string, string]>) {
    if (init) {
      for (const [name, value] of init) {
        this.#raw.push([name, value]);
        const key = name.toLowerCase();
        const list = this.#values.get(key);
        if (list) list.push(value);
        else this.#values.set(key, [value]);
      }
    }
  }

  /**
   * Returns the value of `name` (case-insensitive), with repeated fields joined
   * by `", "`, or `undefined` if absent.
   */
  get(name: string): string | undefined {
    const list = this.#values.get(name.toLowerCase());
    if (!list) return undefined;
    return list.length === 1 ? list[0] : list.join(", ");
  }

  /** Returns the value of every field line named `name`, in order (empty if absent). */
  getAll(name: string): string[] {
    const list = this.#values.get(name.toLowerCase());
    return list ? list.slice() : [];
  }

  /** Whether at least one field line is named `name` (case-insensitive). */
  has(name: string): boolean {
    return this.#values.has(name.toLowerCase());
  }

  /** Yields the raw `[name, value]` field lines in order, names in original case. */
  *entries(): IterableIterator<[string, string]> {
    for (const [name, value] of this.#raw) yield [name, value];
  }

  /** Same as {@link HeaderMap.entries}. */
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  /** The number of field lines (the number of pairs {@link HeaderMap.entries} yields). */
  get size(): number {
    return this.#raw.length;
  }
}

/** `TCHAR[b] === 1` iff byte `b` is an RFC 9110 `tchar`. */
export const TCHAR = /* @__PURE__ */ (() => {
  const table = new Uint8Array(256);
  const extra = "!#$%&'*+-.^_`|~";
  for (let c = 0x30; c <= 0x39; c++) table[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) table[c] = 1;
  for (let i = 0; i < extra.length; i++) table[extra.charCodeAt(i)] = 1;
  return table;
})();

/** Whether byte/char code `c` may appear in a field value (HTAB, SP, VCHAR, obs-text). */
export function isValueCode(c: number): boolean {
  return c === HTAB || (c >= SP && c !== 0x7f && c <= 0xff);
}

/**
 * Whether `s` is a non-empty RFC 9110 token (the grammar of field names,
 * methods and WebSocket subprotocol names).
 */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f || TCHAR[c] === 0) return false;
  }
  return true;
}

/**
 * Whether `s` can be sent as a field value: only HTAB, SP, visible ASCII and
 * Latin-1 characters 0x80–0xFF (so no CR, LF, NUL or other controls, and nothing
 * that does not fit in one byte).
 */
export function isFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    if (!isValueCode(s.charCodeAt(i))) return false;
  }
  return true;
}

/**
 * Encodes a string whose characters are all ≤ U+00FF as Latin-1 bytes. Used to
 * serialize heads; callers validate first (higher code units are truncated).
 */
export function encodeLatin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * The parts of a valid `Host` field value or URI authority: `uri-host [":" port]`
 * (RFC 9112 §3.2, RFC 3986 §3.2.2–3.2.3).
 */
export interface HostParts {
  /**
   * The host exactly as sent: a reg-name or IPv4 address (`example.com`,
   * `127.0.0.1`), or an IPv6 literal with its brackets (`[::1]`).
   */
  hostname: string;
  /** The port digits exactly as sent, or `""` when there is none. */
  port: string;
}

/** `REG_NAME[c] === 1` iff char code `c` is RFC 3986 unreserved or a sub-delim. */
const REG_NAME = /* @__PURE__ */ (() => {
  const table = new Uint8Array(128);
  const extra = "-._~!$&'()*+,;=";
  for (let c = 0x30; c <= 0x39; c++) table[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) table[c] = 1;
  for (let i = 0; i < extra.length; i++) table[extra.charCodeAt(i)] = 1;
  return table;
})();

function isHexCode(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) ||
    (c >= 0x61 && c <= 0x66);
}

/** Whether `s` is an RFC 3986 reg-name (which includes IPv4address): unreserved, sub-delims, `%XX`. */
function isRegName(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      if (!isHexCode(s.charCodeAt(i + 1)) || !isHexCode(s.charCodeAt(i + 2))) {
        return false;
      }
      i += 2;
    } else if (c > 0x7f || REG_NAME[c] === 0) {
      return false;
    }
  }
  return true;
}

/** Whether `s` is an RFC 3986 IPv6address (no zone identifier: RFC 3986 has none). */
function isIPv6(s: string): boolean {
  return parseIPv6(s) !== undefined;
}

/**
 * Parses a `Host` field value (or the authority of an absolute-form request
 * target) as `uri-host [":" port]` (RFC 9112 §3.2, RFC 3986 §3.2.2–3.2.3).
 *
 * The host is a bracketed IPv6 literal, an IPv4 address or a non-empty
 * reg-name (letters, digits, `-._~!$&'()*+,;=` and `%XX`); the port is digits
 * (possibly none, as the grammar allows) and at most 65535, since a larger
 * one cannot be used in a URL. Rejected, among others: user info
 * (`user@host`), a path or query (`host/x`, `host?`), spaces, a second colon
 * outside brackets, IPvFuture literals (`[v1.x]`) and IPv6 zone identifiers.
 *
 * @returns The host and port as sent, or `undefined` when `value` is not a
 *   valid host.
 */
export function parseHost(value: string): HostParts | undefined {
  let hostname: string;
  let rest: string;
  if (value.charCodeAt(0) === 0x5b) {
    const close = value.indexOf("]");
    if (close === -1 || !isIPv6(value.slice(1, close))) return undefined;
    hostname = value.slice(0, close + 1);
    rest = value.slice(close + 1);
  } else {
    const colon = value.indexOf(":");
    hostname = colon === -1 ? value : value.slice(0, colon);
    rest = colon === -1 ? "" : value.slice(colon);
    if (hostname.length === 0 || !isRegName(hostname)) return undefined;
  }
  if (rest === "") return { hostname, port: "" };
  if (rest.charCodeAt(0) !== COLON) return undefined;
  const port = rest.slice(1);
  for (let i = 0; i < port.length; i++) {
    if (!isDigit(port.charCodeAt(i))) return undefined;
  }
  if (port !== "" && Number(port) > 65535) return undefined;
  return { hostname, port };
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
