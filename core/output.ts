/**
 * What a connection has to write, queued as few chunks as possible: frames
 * and raw bytes (handshake heads), in order.
 *
 * Small frames are written back to back into the shared frame slab (see
 * `./encoder.ts`), and a run of them comes out of {@linkcode OutputQueue.take}
 * as one chunk, so an adapter that writes each chunk makes one system call
 * for a whole burst of messages. A large unmasked payload is queued as is,
 * after its header; a large masked one is copied once, masking as it goes.
 * Strings are encoded straight into place, with no intermediate bytes.
 *
 * @module
 */

import {
  COALESCE_LIMIT,
  frameHeaderSize,
  frameSlab,
  maskInPlace,
  SLAB_FRAME_LIMIT,
  writeFrameHeader,
  writeMaskedPayload,
  writeMaskKey,
} from "./encoder.ts";

const EMPTY = new Uint8Array(0);
const NOTHING: readonly Uint8Array[] = Object.freeze([]);
const textEncoder = new TextEncoder();

/** Strings up to this many UTF-16 code units are encoded into the slab. */
const TEXT_IN_PLACE = 4096;
/** Strings up to this long are first tried as ASCII with a plain loop. */
const ASCII_LOOP = 256;
/** Payloads shorter than this are copied with a loop rather than `set`. */
const COPY_LOOP = 16;

/** An ordered queue of bytes to write; see the module doc. */
export class OutputQueue {
  #chunks: Uint8Array[] = [];
  /** The slab holding the current run of packed frames, and its extent. */
  #run: Uint8Array = EMPTY;
  #runStart = 0;
  #runEnd = 0;
  #bytes = 0;

  /** Bytes queued and not yet taken. */
  get byteLength(): number {
    return this.#bytes;
  }

  /** Removes and returns the queued bytes, in order. */
  take(): readonly Uint8Array[] {
    this.#closeRun();
    if (this.#chunks.length === 0) return NOTHING;
    const chunks = this.#chunks;
    this.#chunks = [];
    this.#bytes = 0;
    return chunks;
  }

  /** Queues raw bytes (copied if small; do not modify them otherwise). */
  push(bytes: Uint8Array): void {
    const length = bytes.length;
    if (length === 0) return;
    if (length <= COALESCE_LIMIT) {
      frameSlab.reserve(length);
      const at = frameSlab.used;
      frameSlab.bytes.set(bytes, at);
      this.#commit(at, length);
      return;
    }
    this.#closeRun();
    this.#chunks.push(bytes);
    this.#bytes += length;
  }

  /** Queues `bytes` as a chunk of their own, never copied or modified. */
  pushChunk(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#closeRun();
    this.#chunks.push(bytes);
    this.#bytes += bytes.length;
  }

  /**
   * Queues one frame. A client's frame (`masked`) gets a fresh key and a
   * masked copy of `payload`; `payload` itself is never modified, and is
   * queued as is when it is large and unmasked.
   */
  frame(
    opcode: number,
    payload: Uint8Array,
    fin: boolean,
    rsv: number,
    masked: boolean,
  ): void {
    const length = payload.length;
    const headerLength = frameHeaderSize(length, masked);
    const size = headerLength + length;
    if (
      length <= COALESCE_LIMIT || (masked && size <= SLAB_FRAME_LIMIT)
    ) {
      frameSlab.reserve(size);
      const slab = frameSlab.bytes;
      const at = frameSlab.used;
      const p = writeFrameHeader(slab, at, opcode, length, fin, rsv, masked);
      if (masked) {
        writeMaskKey(slab, p);
        writeMaskedPayload(payload, slab, p + 4);
      } else if (length < COPY_LOOP) {
        for (let i = 0; i < length; i++) slab[p + i] = payload[i];
      } else {
        slab.set(payload, p);
      }
      this.#commit(at, size);
      return;
    }
    if (masked) {
      const out = new Uint8Array(size);
      const p = writeFrameHeader(out, 0, opcode, length, fin, rsv, true);
      writeMaskKey(out, p);
      writeMaskedPayload(payload, out, p + 4);
      this.#closeRun();
      this.#chunks.push(out);
      this.#bytes += size;
      return;
    }
    frameSlab.reserve(headerLength);
    const at = frameSlab.used;
    writeFrameHeader(frameSlab.bytes, at, opcode, length, fin, rsv, false);
    this.#commit(at, headerLength);
    this.#closeRun();
    this.#chunks.push(payload);
    this.#bytes += length;
  }

  /**
   * Queues one frame whose payload is `text` as UTF-8, encoded straight
   * into place (lone surrogates become U+FFFD, as `TextEncoder` does).
   * Returns false, queueing nothing, for a string too long for that; the
   * caller then encodes it and uses {@linkcode OutputQueue.frame}.
   */
  text(
    opcode: number,
    text: string,
    fin: boolean,
    rsv: number,
    masked: boolean,
  ): boolean {
    const units = text.length;
    if (units > TEXT_IN_PLACE) return false;
    // At least `units` bytes, at most 3 per unit: room for the worst case,
    // with the payload placed after a header sized for the best case.
    const maxBytes = 3 * units;
    frameSlab.reserve(frameHeaderSize(maxBytes, masked) + maxBytes);
    const slab = frameSlab.bytes;
    const at = frameSlab.used;
    const guess = frameHeaderSize(units, masked);
    let start = at + guess;
    let length = -1;
    if (units <= ASCII_LOOP) {
      let i = 0;
      for (; i < units; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) break;
        slab[start + i] = c;
      }
      if (i === units) length = units;
    }
    if (length < 0) {
      length = textEncoder.encodeInto(
        text,
        slab.subarray(start, start + maxBytes),
      ).written;
    }
    const headerLength = frameHeaderSize(length, masked);
    if (headerLength !== guess) {
      // Longer than guessed, past a length-form boundary: move it along.
      slab.copyWithin(at + headerLength, start, start + length);
      start = at + headerLength;
    }
    const p = writeFrameHeader(slab, at, opcode, length, fin, rsv, masked);
    if (masked) {
      writeMaskKey(slab, p);
      maskInPlace(slab, start, start + length);
    }
    this.#commit(at, headerLength + length);
    return true;
  }

  /** Claims `slab[at, at + size)` just written, extending the run if it can. */
  #commit(at: number, size: number): void {
    const slab = frameSlab.bytes;
    frameSlab.used = at + size;
    this.#bytes += size;
    if (this.#run === slab && this.#runEnd === at) {
      this.#runEnd = at + size;
      return;
    }
    this.#closeRun();
    this.#run = slab;
    this.#runStart = at;
    this.#runEnd = at + size;
  }

  /** Moves the current run, if any, to the chunk list. */
  #closeRun(): void {
    if (this.#runEnd > this.#runStart) {
      this.#chunks.push(this.#run.subarray(this.#runStart, this.#runEnd));
    }
    // Forget the slab, so an idle connection does not keep it alive.
    this.#run = EMPTY;
    this.#runStart = 0;
    this.#runEnd = 0;
  }
}
