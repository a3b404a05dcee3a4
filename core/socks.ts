/**
 * The client side of a SOCKS5 handshake (RFC 1928) with optional
 * username/password authentication (RFC 1929), sans-IO like the rest of the
 * core: write what {@linkcode Socks5Client.takeOutput} returns to the proxy,
 * feed what it answers to {@linkcode Socks5Client.receive}, until it reports
 * `open` (the tunnel to the target is up: the WebSocket handshake goes next,
 * starting with any `rest` bytes) or `failed`.
 *
 * For `socks5://` the caller resolves the target's name and gives the
 * address; for `socks5h://` it gives the name, which the proxy resolves.
 *
 * @example
 * ```ts
 * import { Socks5Client } from "./socks.ts";
 *
 * const socks = new Socks5Client({ host: "example.com", port: 443 });
 * const greeting = socks.takeOutput(); // [05 01 00]: SOCKS5, "no auth"
 * const step = socks.receive(new Uint8Array([5, 0])); // the proxy agrees
 * // step.state === "pending"; socks.takeOutput() is now the CONNECT request.
 * ```
 *
 * @module
 */

import { concatBytes, EMPTY_BYTES } from "./bytes.ts";
import { parseIPv4, parseIPv6 } from "./ip.ts";

/** Where the proxy should connect, and how to authenticate to it. */
export interface Socks5Options {
  /** The target: a domain name, an IPv4 literal or an IPv6 literal (brackets allowed). */
  host: string;
  /** The target port, 0–65535. */
  port: number;
  /** RFC 1929 username (1–255 bytes of UTF-8); with `password`. */
  username?: string;
  /** RFC 1929 password (1–255 bytes of UTF-8). */
  password?: string;
}

/** The SOCKS5 reply codes (RFC 1928 §6), by value. */
export const SOCKS5_REPLIES: Readonly<Record<number, string>> = {
  1: "general SOCKS server failure",
  2: "connection not allowed by ruleset",
  3: "network unreachable",
  4: "host unreachable",
  5: "connection refused",
  6: "TTL expired",
  7: "command not supported",
  8: "address type not supported",
};

/** What a {@linkcode Socks5Client} reports after each `receive`. */
export type Socks5Step =
  | {
    /** More bytes are needed from the proxy (and `takeOutput` may have some to send). */
    state: "pending";
  }
  | {
    /** The tunnel is open. */
    state: "open";
    /** The address the proxy bound for the tunnel (informative). */
    bound: { host: string; port: number };
    /** Bytes that came after the reply: the target's, in order. */
    rest: Uint8Array;
  }
  | {
    /** The proxy refused, or broke the protocol; close the transport. */
    state: "failed";
    /** Why, for people: never holds the credentials. */
    message: string;
    /** The SOCKS5 reply code when the proxy refused the CONNECT. */
    reply?: number;
  };

const VERSION = 5;
const NO_AUTH = 0x00;
const USER_PASS = 0x02;
const NONE_ACCEPTABLE = 0xff;
const CONNECT = 0x01;
const ATYP_IPV4 = 1;
const ATYP_DOMAIN = 3;
const ATYP_IPV6 = 4;

const encoder = new TextEncoder();

/** A SOCKS5 client handshake. See the module doc. */
export class Socks5Client {
  #phase: "method" | "auth" | "reply" | "done" = "method";
  #output: Uint8Array[] = [];
  #buffer: Uint8Array = EMPTY_BYTES;
  readonly #request: Uint8Array;
  readonly #auth: Uint8Array | undefined;

  /**
   * Prepares the greeting and the CONNECT request.
   *
   * @throws {RangeError} on a port outside 0–65535, a name over 255 bytes,
   *   or a username or password that is empty or over 255 bytes.
   * @throws {TypeError} when only one of `username` and `password` is given.
   */
  constructor(options: Socks5Options) {
    const { host, port, username, password } = options;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`invalid port: ${port}`);
    }
    if ((username === undefined) !== (password === undefined)) {
      throw new TypeError("SOCKS5 username and password go together");
    }
    this.#request = connectRequest(host, port);
    if (username !== undefined && password !== undefined) {
      const user = encoder.encode(username);
      const pass = encoder.encode(password);
      for (
        const [what, bytes] of [["username", user], ["password", pass]] as const
      ) {
        if (bytes.length < 1 || bytes.length > 255) {
          throw new RangeError(`SOCKS5 ${what} must be 1-255 bytes`);
        }
      }
      this.#auth = Uint8Array.of(
        1,
        user.length,
        ...user,
        pass.length,
        ...pass,
      );
      this.#output.push(Uint8Array.of(VERSION, 2, NO_AUTH, USER_PASS));
    } else {
      this.#output.push(Uint8Array.of(VERSION, 1, NO_AUTH));
    }
  }

  /** Bytes to write to the proxy now (then forgotten here). */
  takeOutput(): Uint8Array[] {
    const output = this.#output;
    this.#output = [];
    return output;
  }

  /** Takes bytes from the proxy; says where the handshake stands. */
  receive(chunk: Uint8Array): Socks5Step {
    if (this.#phase === "done") {
      return { state: "failed", message: "the SOCKS5 handshake is over" };
    }
    const held = this.#buffer;
    this.#buffer = held.length === 0
      ? chunk
      : concatBytes([held, chunk], held.length + chunk.length);
    // Each phase either answers or moves on to the next; the last answers.
    for (;;) {
      const step = this.#step();
      if (step !== undefined) return step;
    }
  }

  /** One phase, if its bytes are in; undefined to go on with the next. */
  #step(): Socks5Step | undefined {
    const b = this.#buffer;
    switch (this.#phase) {
      case "method": {
        if (b.length < 2) return { state: "pending" };
        if (b[0] !== VERSION) {
          return this.#fail("the proxy is not a SOCKS5 server");
        }
        const method = b[1];
        this.#buffer = b.subarray(2);
        if (method === NONE_ACCEPTABLE) {
          return this.#fail(
            this.#auth === undefined
              ? "the SOCKS5 proxy requires authentication"
              : "the SOCKS5 proxy accepts none of our authentication methods",
          );
        }
        if (method === USER_PASS && this.#auth !== undefined) {
          this.#output.push(this.#auth);
          this.#phase = "auth";
          return undefined;
        }
        if (method !== NO_AUTH) {
          return this.#fail(
            `the SOCKS5 proxy chose method ${method}, which we did not offer`,
          );
        }
        this.#output.push(this.#request);
        this.#phase = "reply";
        return undefined;
      }
      case "auth": {
        if (b.length < 2) return { state: "pending" };
        if (b[0] !== 1) return this.#fail("bad SOCKS5 authentication reply");
        if (b[1] !== 0) {
          return this.#fail(
            "the SOCKS5 proxy rejected the username or password",
          );
        }
        this.#buffer = b.subarray(2);
        this.#output.push(this.#request);
        this.#phase = "reply";
        return undefined;
      }
      case "reply": {
        if (b.length < 5) return { state: "pending" };
        if (b[0] !== VERSION) return this.#fail("bad SOCKS5 reply");
        const reply = b[1];
        if (reply !== 0) {
          const name = SOCKS5_REPLIES[reply] ?? "unknown reply";
          return this.#fail(
            `the SOCKS5 proxy refused: ${name} (${reply})`,
            reply,
          );
        }
        let length: number;
        switch (b[3]) {
          case ATYP_IPV4:
            length = 4 + 4 + 2;
            break;
          case ATYP_IPV6:
            length = 4 + 16 + 2;
            break;
          case ATYP_DOMAIN:
            length = 4 + 1 + b[4] + 2;
            break;
          default:
            return this.#fail(`bad SOCKS5 address type ${b[3]}`);
        }
        if (b.length < length) return { state: "pending" };
        const bound = boundAddress(b.subarray(3, length));
        this.#phase = "done";
        const rest = b.subarray(length);
        this.#buffer = EMPTY_BYTES;
        return { state: "open", bound, rest };
      }
      default:
        return { state: "failed", message: "the SOCKS5 handshake is over" };
    }
  }

  #fail(message: string, reply?: number): Socks5Step {
    this.#phase = "done";
    this.#buffer = EMPTY_BYTES;
    this.#output = [];
    return reply === undefined
      ? { state: "failed", message }
      : { state: "failed", message, reply };
  }
}

/** The CONNECT request for `host`:`port` (RFC 1928 §4). */
function connectRequest(host: string, port: number): Uint8Array {
  const bare = host.startsWith("[") && host.endsWith("]")
    ? host.slice(1, -1)
    : host;
  let address: Uint8Array;
  const v4 = parseIPv4(bare);
  const v6 = v4 === undefined ? parseIPv6(bare) : undefined;
  if (v4 !== undefined) {
    address = Uint8Array.of(ATYP_IPV4, ...v4);
  } else if (v6 !== undefined) {
    address = Uint8Array.of(ATYP_IPV6, ...v6);
  } else {
    const name = encoder.encode(bare);
    if (name.length < 1 || name.length > 255) {
      throw new RangeError("a SOCKS5 target name must be 1-255 bytes");
    }
    address = Uint8Array.of(ATYP_DOMAIN, name.length, ...name);
  }
  return Uint8Array.of(VERSION, CONNECT, 0, ...address, port >> 8, port & 0xff);
}

/** The address in a reply (from its ATYP byte to its port). */
function boundAddress(bytes: Uint8Array): { host: string; port: number } {
  const port = (bytes[bytes.length - 2] << 8) | bytes[bytes.length - 1];
  const address = bytes.subarray(1, bytes.length - 2);
  let host: string;
  if (bytes[0] === ATYP_IPV4) {
    host = Array.from(address).join(".");
  } else if (bytes[0] === ATYP_IPV6) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) {
      groups.push(((address[i] << 8) | address[i + 1]).toString(16));
    }
    host = groups.join(":");
  } else {
    host = new TextDecoder().decode(address.subarray(1));
  }
  return { host, port };
}
