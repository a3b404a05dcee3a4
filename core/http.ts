/**
 * An incremental, size-limited HTTP/1.1 message-head parser (RFC 9112), enough
 * for the WebSocket opening handshake in both directions.
 *
 * {@link HttpHeadParser} takes bytes in chunks of any size (down to one byte),
 * scans each byte once (a linear scanner, no regular expressions) and returns the
 * parsed head plus the bytes that followed the blank line — on a WebSocket
 * connection those are already frames, so they are returned as a `subarray` of
 * the last chunk, not copied. Headers live in a {@link HeaderMap} backed by `Map`
 * (no plain objects, so a `__proto__` header is just a header).
 *
 * Choices, all on the strict side because a handshake head is small and
 * mis-framing is how request smuggling starts:
 * - Lines must end in CRLF. A bare LF or a bare CR is rejected (400); RFC 9112
 *   allows but does not require accepting a bare LF, and a parser that disagrees
 *   with a proxy in front of it about where a line ends is a desync risk.
 * - Empty lines before the start line are ignored (RFC 9112 §2.2).
 * - obs-fold (a line starting with SP/HTAB), whitespace between a field name and
 *   its colon, non-token bytes in names (so any byte > 0x7F), and control bytes
 *   other than HTAB in values are rejected (400).
 * - Values are trimmed of SP/HTAB and decoded as Latin-1 (one byte → one char),
 *   so no byte is lost; bytes 0x80–0xFF (obs-text) are kept.
 * - The whole head, start line and final CRLF included, may not exceed
 *   `maxHeaderBytes`; the parser throws 431 on the first byte past the limit.
 *   More than `maxHeaders` field lines is also 431.
 *
 * @example
 * ```ts
 * import { HttpHeadParser } from "./http.ts";
 * const parser = HttpHeadParser.request();
 * const bytes = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\nxyz");
 * const result = parser.push(bytes);
 * if (result.done) {
 *   console.log(result.head.headers.get("host")); // "a"
 *   console.log(result.rest.length); // 3
 * }
 * ```
 *
 * @module
 */

import { type ErrorId, LocalError, PeerError } from "./errors.ts";
import { HeaderMap, isValueCode, TCHAR } from "./http_fields.ts";

export {
  encodeLatin1,
  HeaderMap,
  type HostParts,
  isFieldValue,
  isToken,
  parseHost,
} from "./http_fields.ts";

/** Size limits for one message head. */
export interface HttpLimits {
  /** Maximum bytes in the head: start line, field lines and the final CRLF. */
  maxHeaderBytes: number;
  /** Maximum number of field lines. */
  maxHeaders: number;
}

/** Default limits: 16 KiB of head, 100 field lines. */
export const DEFAULT_HTTP_LIMITS: HttpLimits = Object.freeze({
  maxHeaderBytes: 16384,
  maxHeaders: 100,
});

/** A parsed request head. */
export interface HttpRequestHead {
  /** The method token, case preserved (methods are case-sensitive). */
  method: string;
  /** The request target exactly as sent (origin-form, absolute-form, ...). */
  target: string;
  /** The HTTP version as `"major.minor"`, e.g. `"1.1"`. */
  version: string;
  /** The header fields. */
  headers: HeaderMap;
}

/** A parsed response head. */
export interface HttpResponseHead {
  /** The HTTP version as `"major.minor"`, e.g. `"1.1"`. */
  version: string;
  /** The three-digit status code (100–599). */
  status: number;
  /** The reason phrase (may be empty). */
  statusText: string;
  /** The header fields. */
  headers: HeaderMap;
}

/**
 * A malformed or oversized message head: a {@linkcode PeerError} (close
 * code 1006, no frame is sent) with the HTTP `status` that answers it and
 * an id, by default `WS_ERR_HEADERS_TOO_LARGE` for 431 and
 * `WS_ERR_INVALID_HTTP` otherwise.
 */
export class HttpError extends PeerError {
  /** 400 (malformed) or 431 (head too large / too many fields). */
  declare readonly status: number;

  /** Creates an error with an HTTP status and a message. */
  constructor(
    status: number,
    message: string,
    id: ErrorId = status === 431
      ? "WS_ERR_HEADERS_TOO_LARGE"
      : "WS_ERR_INVALID_HTTP",
  ) {
    super(1006, message, id, { status });
    this.name = "HttpError";
  }
}

/**
 * The result of {@link HttpHeadParser.push}: either more bytes are needed, or the
 * head is complete and `rest` holds the bytes after it (a view of the last chunk).
 */
export type HttpParseResult<T> =
  | { done: false }
  | { done: true; head: T; rest: Uint8Array };

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;

/** Decodes `bytes[start, end)` one byte per char (Latin-1, lossless). */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  // `apply` takes the typed array as is; spreading it would run the
  // iterator protocol, several times slower for header-sized strings.
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(
      null,
      bytes.subarray(i, Math.min(end, i + 4096)) as unknown as number[],
    );
  }
  return s;
}

/** Whether `line[at, at+8)` is `HTTP/d.d`. */
function isVersion(line: Uint8Array, at: number): boolean {
  return line[at] === 0x48 && line[at + 1] === 0x54 && line[at + 2] === 0x54 &&
    line[at + 3] === 0x50 && line[at + 4] === 0x2f && isDigit(line[at + 5]) &&
    line[at + 6] === 0x2e && isDigit(line[at + 7]);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function mergeLimits(limits: Partial<HttpLimits> | undefined): HttpLimits {
  const merged: HttpLimits = {
    maxHeaderBytes: limits?.maxHeaderBytes ??
      DEFAULT_HTTP_LIMITS.maxHeaderBytes,
    maxHeaders: limits?.maxHeaders ?? DEFAULT_HTTP_LIMITS.maxHeaders,
  };
  if (!Number.isInteger(merged.maxHeaderBytes) || merged.maxHeaderBytes < 1) {
    throw new RangeError("maxHeaderBytes must be a positive integer");
  }
  if (!Number.isInteger(merged.maxHeaders) || merged.maxHeaders < 0) {
    throw new RangeError("maxHeaders must be a non-negative integer");
  }
  return merged;
}

/** Parser states. */
const RUNNING = 0;
const DONE = 1;
const FAILED = 2;

/**
 * Incremental parser for one request or response head.
 *
 * Create one with {@link HttpHeadParser.request} or
 * {@link HttpHeadParser.response} and {@link HttpHeadParser.push} bytes into it
 * until it reports `done`. Each byte is scanned once; only the current line is
 * buffered. After an `HttpError` the parser stays failed and rethrows it; once
 * done it must not be pushed to again.
 */
export class HttpHeadParser<T extends HttpRequestHead | HttpResponseHead> {
  readonly #isRequest: boolean;
  readonly #limits: HttpLimits;
  #line = new Uint8Array(256);
  #lineLen = 0;
  #total = 0;
  #state = RUNNING;
  #error: HttpError | undefined;
  #startSeen = false;
  #first = "";
  #second = "";
  #third = "";
  #status = 0;
  readonly #fields: [string, string][] = [];

  private constructor(isRequest: boolean, limits?: Partial<HttpLimits>) {
    this.#isRequest = isRequest;
    this.#limits = mergeLimits(limits);
  }

  /** Creates a parser for a request head (`GET /path HTTP/1.1`, fields, CRLF). */
  static request(
    limits?: Partial<HttpLimits>,
  ): HttpHeadParser<HttpRequestHead> {
    return new HttpHeadParser<HttpRequestHead>(true, limits);
  }

  /** Creates a parser for a response head (`HTTP/1.1 101 Switching Protocols`, ...). */
  static response(
    limits?: Partial<HttpLimits>,
  ): HttpHeadParser<HttpResponseHead> {
    return new HttpHeadParser<HttpResponseHead>(false, limits);
  }

  /**
   * Feeds the next chunk of bytes.
   *
   * @returns `{ done: false }` while the head is incomplete; then the head and
   *   the bytes after it (`rest`, a `subarray` of `chunk`).
   * @throws {HttpError} on malformed (400) or oversized (431) input.
   */
  push(chunk: Uint8Array): HttpParseResult<T> {
    if (this.#state === FAILED) throw this.#error;
    if (this.#state === DONE) {
      throw new LocalError(
        "state",
        "HttpHeadParser: the head is already complete",
      );
    }
    try {
      return this.#push(chunk);
    } catch (error) {
      this.#state = FAILED;
      this.#error = error as HttpError;
      throw error;
    }
  }

  #push(chunk: Uint8Array): HttpParseResult<T> {
    const max = this.#limits.maxHeaderBytes;
    let i = 0;
    while (i < chunk.length) {
      const lf = chunk.indexOf(LF, i);
      const end = lf === -1 ? chunk.length : lf + 1;
      const take = end - i;
      if (take > max - this.#total) {
        throw new HttpError(431, `message head exceeds ${max} bytes`);
      }
      this.#append(chunk, i, end);
      this.#total += take;
      i = end;
      if (lf === -1) break;
      if (this.#onLine()) {
        this.#state = DONE;
        return { done: true, head: this.#head(), rest: chunk.subarray(i) };
      }
    }
    return { done: false };
  }

  #append(chunk: Uint8Array, start: number, end: number): void {
    const need = this.#lineLen + end - start;
    if (need > this.#line.length) {
      let size = this.#line.length * 2;
      while (size < need) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#line.subarray(0, this.#lineLen));
      this.#line = grown;
    }
    this.#line.set(chunk.subarray(start, end), this.#lineLen);
    this.#lineLen = need;
  }

  /** Handles the complete line in the buffer (ending in LF); true at the blank line. */
  #onLine(): boolean {
    const line = this.#line;
    const len = this.#lineLen - 2; // content length without CRLF
    this.#lineLen = 0;
    if (len < 0 || line[len] !== CR) {
      throw new HttpError(400, "line ends in a bare LF");
    }
    if (!this.#startSeen) {
      if (len === 0) return false; // leading empty lines are ignored
      this.#startSeen = true;
      if (this.#isRequest) this.#requestLine(line, len);
      else this.#statusLine(line, len);
      return false;
    }
    if (len === 0) return true;
    this.#fieldLine(line, len);
    return false;
  }

  #requestLine(line: Uint8Array, len: number): void {
    let i = 0;
    while (i < len && TCHAR[line[i]] === 1) i++;
    if (i === 0 || i >= len || line[i] !== SP) {
      throw new HttpError(400, "invalid request line: bad method");
    }
    this.#first = latin1(line, 0, i);
    const targetStart = ++i;
    while (i < len && line[i] > SP && line[i] < 0x7f) i++;
    if (i === targetStart || i >= len || line[i] !== SP) {
      throw new HttpError(400, "invalid request line: bad request target");
    }
    this.#second = latin1(line, targetStart, i);
    i++;
    if (len - i !== 8 || !isVersion(line, i)) {
      throw new HttpError(400, "invalid request line: bad HTTP version");
    }
    this.#third = latin1(line, i + 5, i + 8);
  }

  #statusLine(line: Uint8Array, len: number): void {
    // A line shorter than 9 bytes fails here: line[len] is the CR.
    if (!isVersion(line, 0) || line[8] !== SP) {
      throw new HttpError(400, "invalid status line: bad HTTP version");
    }
    const d0 = line[9];
    const d1 = line[10];
    const d2 = line[11];
    if (
      len < 12 || d0 < 0x31 || d0 > 0x35 || !isDigit(d1) || !isDigit(d2) ||
      (len > 12 && line[12] !== SP)
    ) {
      throw new HttpError(400, "invalid status line: bad status code");
    }
    for (let i = 13; i < len; i++) {
      if (!isValueCode(line[i])) {
        throw new HttpError(
          400,
          "invalid status line: control character in reason phrase",
        );
      }
    }
    this.#third = latin1(line, 5, 8);
    this.#status = (d0 - 0x30) * 100 + (d1 - 0x30) * 10 + (d2 - 0x30);
    this.#second = len > 13 ? latin1(line, 13, len) : "";
  }

  #fieldLine(line: Uint8Array, len: number): void {
    if (this.#fields.length >= this.#limits.maxHeaders) {
      throw new HttpError(
        431,
        `more than ${this.#limits.maxHeaders} header fields`,
      );
    }
    const first = line[0];
    if (first === SP || first === HTAB) {
      throw new HttpError(400, "obsolete line folding is not allowed");
    }
    let i = 0;
    while (i < len && TCHAR[line[i]] === 1) i++;
    if (line[i] !== COLON) {
      if (line.subarray(i, len).indexOf(COLON) === -1) {
        throw new HttpError(400, "header line without a colon");
      }
      let j = i;
      while (line[j] === SP || line[j] === HTAB) j++;
      if (i > 0 && line[j] === COLON) {
        throw new HttpError(400, "whitespace between header name and colon");
      }
      throw new HttpError(400, "invalid character in header name");
    }
    if (i === 0) throw new HttpError(400, "empty header name");
    const name = latin1(line, 0, i);
    let start = i + 1;
    let end = len;
    while (start < end && (line[start] === SP || line[start] === HTAB)) start++;
    while (end > start && (line[end - 1] === SP || line[end - 1] === HTAB)) {
      end--;
    }
    for (let j = start; j < end; j++) {
      if (!isValueCode(line[j])) {
        throw new HttpError(
          400,
          `control character in value of header "${name}"`,
        );
      }
    }
    this.#fields.push([name, latin1(line, start, end)]);
  }

  #head(): T {
    const headers = new HeaderMap(this.#fields);
    if (this.#isRequest) {
      const head: HttpRequestHead = {
        method: this.#first,
        target: this.#second,
        version: this.#third,
        headers,
      };
      return head as T;
    }
    const head: HttpResponseHead = {
      version: this.#third,
      status: this.#status,
      statusText: this.#second,
      headers,
    };
    return head as T;
  }
}
