/**
 * Small helpers the runtime adapters share: the default high-water mark,
 * error and byte normalising, and IPv6 host names without brackets.
 *
 * @example
 * ```ts
 * import { HIGH_WATER_MARK, toError, unbracket } from "./util.ts";
 * unbracket("[::1]"); // "::1"
 * toError("reset").message; // "reset"
 * HIGH_WATER_MARK; // 65536
 * ```
 *
 * @module
 */

import { toBytes } from "../core/bytes.ts";

/**
 * Bytes a transport queues before `write` returns false (64 KiB): the
 * default of every adapter.
 */
export const HIGH_WATER_MARK: number = 64 * 1024;

/** `error` itself when it is an `Error`, else an `Error` saying what it was. */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * A chunk from a byte stream as a `Uint8Array` (a view, not a copy); throws
 * a `TypeError` for anything that is not bytes.
 */
export function streamBytes(chunk: unknown): Uint8Array {
  if (ArrayBuffer.isView(chunk) || chunk instanceof ArrayBuffer) {
    return toBytes(chunk);
  }
  throw new TypeError("the readable stream must yield bytes");
}

/** "[::1]" → "::1" (a URL's IPv6 host); other host names unchanged. */
export function unbracket(hostname: string): string {
  return hostname.startsWith("[") && hostname.endsWith("]")
    ? hostname.slice(1, -1)
    : hostname;
}
