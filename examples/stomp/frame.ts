/**
 * STOMP frames (1.0, 1.1 and 1.2): an incremental parser and a serializer,
 * with no I/O.
 *
 * A frame is `COMMAND EOL (name:value EOL)* EOL body NUL`, where EOL is LF
 * or (1.2) CR LF. The body ends at the NUL, or — when a `content-length`
 * header is present — after exactly that many octets (which may include
 * NULs), followed by a NUL. EOLs between frames are heart-beats. Header
 * names and values escape `\` `:` LF and (1.2) CR as `\\` `\c` `\n` `\r`;
 * CONNECT and CONNECTED frames, and STOMP 1.0, are not escaped. If a header
 * is repeated, the first occurrence counts.
 *
 * STOMP over WebSocket carries these bytes in text or binary messages, and
 * a frame may be split across messages or share one with others: the
 * parser accepts any chunking.
 *
 * @module
 */

/** A STOMP frame: command, headers (in order) and body octets. */
export interface StompFrame {
  /** E.g. `CONNECT`, `SEND`, `MESSAGE`. */
  command: string;
  /** Header fields in order; for a repeated name the first one counts. */
  headers: [string, string][];
  /** The body (empty for most commands). */
  body: Uint8Array;
}

/** A frame that cannot be parsed; the connection should get an ERROR. */
export class StompSyntaxError extends Error {
  /** Creates an error with a message for the ERROR frame. */
  constructor(message: string) {
    super(message);
    this.name = "StompSyntaxError";
  }
}

/** What the parser produces: frames and (between frames) heart-beats. */
export type ParsedItem =
  | { type: "frame"; frame: StompFrame }
  | { type: "heartbeat" };

/** Limits for {@linkcode FrameParser}. */
export interface ParserLimits {
  /** Most octets in one frame, head and body (default 1 MiB). */
  maxFrameSize?: number;
  /** Most header lines in one frame (default 100). */
  maxHeaders?: number;
}

/** The first value of header `name`, or undefined. */
export function header(frame: StompFrame, name: string): string | undefined {
  for (const [key, value] of frame.headers) if (key === name) return value;
  return undefined;
}

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Whether headers of `command` are escaped in `version`. */
function escapes(command: string, version: string): boolean {
  return version !== "1.0" && command !== "CONNECT" &&
    command !== "CONNECTED";
}

/** Undoes header escaping; throws on an undefined escape sequence. */
export function unescapeHeader(text: string, version: string): string {
  if (!text.includes("\\")) return text;
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== "\\") {
      out += c;
      continue;
    }
    const next = text[++i];
    if (next === "\\") out += "\\";
    else if (next === "n") out += "\n";
    else if (next === "c") out += ":";
    else if (next === "r" && version === "1.2") out += "\r";
    else {
      throw new StompSyntaxError(
        `undefined escape sequence "\\${next ?? ""}" in a header`,
      );
    }
  }
  return out;
}

/** Escapes a header name or value for `version`. */
export function escapeHeader(text: string, version: string): string {
  let out = "";
  for (const c of text) {
    if (c === "\\") out += "\\\\";
    else if (c === "\n") out += "\\n";
    else if (c === ":") out += "\\c";
    else if (c === "\r" && version === "1.2") out += "\\r";
    else out += c;
  }
  return out;
}

/**
 * An incremental frame parser: `push()` bytes as they arrive; it returns
 * every complete frame and heart-beat they finish. Throws
 * {@linkcode StompSyntaxError} on malformed input (after which the
 * connection should be closed).
 */
export class FrameParser {
  /** The negotiated STOMP version; decides header unescaping. */
  version = "1.2";
  readonly #maxFrameSize: number;
  readonly #maxHeaders: number;
  #buffer: Uint8Array = new Uint8Array(0);

  /** Creates a parser with `limits`. */
  constructor(limits: ParserLimits = {}) {
    this.#maxFrameSize = limits.maxFrameSize ?? 1024 * 1024;
    this.#maxHeaders = limits.maxHeaders ?? 100;
  }

  /** Feeds a chunk (text is taken as UTF-8); returns what it completed. */
  push(chunk: Uint8Array | string): ParsedItem[] {
    const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk;
    if (this.#buffer.length === 0) {
      this.#buffer = bytes;
    } else {
      const joined = new Uint8Array(this.#buffer.length + bytes.length);
      joined.set(this.#buffer);
      joined.set(bytes, this.#buffer.length);
      this.#buffer = joined;
    }
    const out: ParsedItem[] = [];
    for (;;) {
      const item = this.#next();
      if (item === undefined) break;
      out.push(item);
    }
    if (this.#buffer.length > this.#maxFrameSize) {
      throw new StompSyntaxError(
        `frame larger than ${this.#maxFrameSize} octets`,
      );
    }
    return out;
  }

  #next(): ParsedItem | undefined {
    const buf = this.#buffer;
    if (buf.length === 0) return undefined;
    // EOLs between frames are heart-beats.
    if (buf[0] === LF) {
      this.#buffer = buf.subarray(1);
      return { type: "heartbeat" };
    }
    if (buf[0] === CR) {
      if (buf.length < 2) return undefined;
      if (buf[1] !== LF) throw new StompSyntaxError("CR not followed by LF");
      this.#buffer = buf.subarray(2);
      return { type: "heartbeat" };
    }
    // The head ends at the first empty line.
    const lines: string[] = [];
    let start = 0;
    let bodyStart = -1;
    while (start < buf.length) {
      const lf = buf.indexOf(LF, start);
      if (lf === -1) return undefined;
      let end = lf;
      if (end > start && buf[end - 1] === CR) end--;
      if (end === start) {
        bodyStart = lf + 1;
        break;
      }
      let line: string;
      try {
        line = decoder.decode(buf.subarray(start, end));
      } catch {
        throw new StompSyntaxError("frame head is not valid UTF-8");
      }
      lines.push(line);
      if (lines.length > this.#maxHeaders + 1) {
        throw new StompSyntaxError(`more than ${this.#maxHeaders} headers`);
      }
      start = lf + 1;
    }
    if (bodyStart === -1) return undefined;
    const command = lines[0];
    const unescape = escapes(command, this.version);
    const headers: [string, string][] = [];
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) {
        throw new StompSyntaxError(
          `malformed header line ${JSON.stringify(line)}`,
        );
      }
      const name = line.slice(0, colon);
      const value = line.slice(colon + 1);
      headers.push(
        unescape
          ? [
            unescapeHeader(name, this.version),
            unescapeHeader(value, this.version),
          ]
          : [name, value],
      );
    }
    const frame: StompFrame = { command, headers, body: new Uint8Array(0) };
    const length = header(frame, "content-length");
    let bodyEnd: number;
    if (length !== undefined) {
      if (!/^\d+$/.test(length)) {
        throw new StompSyntaxError(
          `invalid content-length ${JSON.stringify(length)}`,
        );
      }
      const size = Number(length);
      if (size > this.#maxFrameSize) {
        throw new StompSyntaxError(
          `frame larger than ${this.#maxFrameSize} octets`,
        );
      }
      bodyEnd = bodyStart + size;
      if (buf.length <= bodyEnd) return undefined;
      if (buf[bodyEnd] !== NUL) {
        throw new StompSyntaxError("body longer than its content-length");
      }
    } else {
      bodyEnd = buf.indexOf(NUL, bodyStart);
      if (bodyEnd === -1) return undefined;
    }
    frame.body = buf.slice(bodyStart, bodyEnd);
    this.#buffer = buf.subarray(bodyEnd + 1);
    return { type: "frame", frame };
  }
}

/**
 * Serializes a frame for `version`, escaping headers where the spec asks.
 * Adds `content-length` when the body is not empty and none is given.
 */
export function serializeFrame(
  frame: StompFrame,
  version: string,
): Uint8Array {
  const escape = escapes(frame.command, version);
  let head = frame.command + "\n";
  let hasLength = false;
  for (const [name, value] of frame.headers) {
    if (name === "content-length") hasLength = true;
    head += escape
      ? `${escapeHeader(name, version)}:${escapeHeader(value, version)}\n`
      : `${name}:${value}\n`;
  }
  if (!hasLength && frame.body.length > 0) {
    head += `content-length:${frame.body.length}\n`;
  }
  head += "\n";
  const headBytes = encoder.encode(head);
  const out = new Uint8Array(headBytes.length + frame.body.length + 1);
  out.set(headBytes);
  out.set(frame.body, headBytes.length);
  out[out.length - 1] = NUL;
  return out;
}
