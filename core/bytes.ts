/**
 * Small byte helpers shared by the core.
 *
 * @module
 */

/** An empty byte array, safe to share because it cannot be written to. */
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/**
 * Joins `pieces` (whose lengths add up to `total`) into one new array, of
 * `capacity` bytes (default `total`; the rest is zero).
 */
export function concatBytes(
  pieces: readonly Uint8Array[],
  total: number,
  capacity: number = total,
): Uint8Array {
  const out = new Uint8Array(capacity);
  let offset = 0;
  for (const piece of pieces) {
    out.set(piece, offset);
    offset += piece.length;
  }
  return out;
}

/** Views any `BufferSource` as a `Uint8Array` without copying. */
export function toBytes(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  return new Uint8Array(data);
}
