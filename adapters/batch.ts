/**
 * Merging queued writes, for transports that queue bytes themselves (the
 * pull transport over Deno connections and WHATWG writable streams, and
 * Bun's sockets): a run of small chunks goes out as one write instead of
 * one operation each.
 *
 * @module
 */

/** By default, queued chunks shorter than this are merged into one write... */
const COALESCE_BELOW = 16 * 1024;
/** ...of at most this many bytes. */
const COALESCE_MAX = 64 * 1024;

/**
 * Removes the next write from `queue` (which must not be empty): a run of
 * at least two chunks shorter than `mergeBelow` bytes (default 16 KiB),
 * together at most 64 KiB, copied into one buffer; or else the first chunk
 * as it is.
 */
export function takeBatch(
  queue: Uint8Array[],
  mergeBelow: number = COALESCE_BELOW,
): Uint8Array {
  let count = 0;
  let total = 0;
  while (count < queue.length) {
    const size = queue[count].byteLength;
    if (size >= mergeBelow || total + size > COALESCE_MAX) break;
    total += size;
    count++;
  }
  if (count < 2) return queue.shift()!;
  const merged = new Uint8Array(total);
  let offset = 0;
  for (const chunk of queue.splice(0, count)) {
    merged.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return merged;
}
