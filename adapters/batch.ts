/**
 * Merging queued writes, for transports whose writes are async operations
 * (Deno connections, WHATWG writable streams): a run of small chunks goes
 * out as one write instead of one operation each.
 *
 * @module
 */

/** Queued chunks shorter than this are merged into one write... */
const COALESCE_BELOW = 16 * 1024;
/** ...of at most this many bytes. */
const COALESCE_MAX = 64 * 1024;

/**
 * Removes the next write from `queue` (which must not be empty): a run of
 * at least two small chunks copied into one buffer, or else the first chunk
 * as it is.
 */
export function takeBatch(queue: Uint8Array[]): Uint8Array {
  let count = 0;
  let total = 0;
  while (count < queue.length) {
    const size = queue[count].byteLength;
    if (size >= COALESCE_BELOW || total + size > COALESCE_MAX) break;
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
