/**
 * A message encoded once for many connections: what a publish to a topic
 * sends. The server-to-client frame (unmasked) is built the first time a
 * connection asks for it and then shared, as the same bytes, by every
 * connection that can send it as it is — those with no extension, and
 * those whose extensions encode alike (permessage-deflate with the same
 * window, level and threshold: see {@linkcode Extension.shareKey}). So a
 * publish to ten thousand subscribers frames, and compresses, once per
 * kind of subscriber, not once per subscriber.
 *
 * A client's connection masks each frame with a fresh key, and a
 * connection with an extension that cannot share encodes the message
 * itself: {@linkcode Connection.sendPrepared} falls back to `send()` for
 * those.
 *
 * @example
 * ```ts
 * import { Connection } from "./connection.ts";
 * import { PreparedMessage } from "./prepared.ts";
 *
 * declare const a: Connection, b: Connection; // open server connections
 * const message = new PreparedMessage("hello, everyone");
 * a.sendPrepared(message);
 * b.sendPrepared(message); // the same frame bytes as `a`'s
 * ```
 *
 * @module
 */

import { toBytes } from "./bytes.ts";
import { frameHeaderSize, writeFrameHeader } from "./encoder.ts";
import type { Extension } from "./extension.ts";
import { Opcode } from "./frame.ts";

const encoder = new TextEncoder();

/** One message, framed once per kind of receiving connection. */
export class PreparedMessage {
  /** The message's bytes (UTF-8 for text). */
  readonly payload: Uint8Array;
  /** Whether it is a text message. */
  readonly text: boolean;
  /** The plain frame, once made. */
  #plain: Uint8Array | undefined;
  /** Frames by extension `shareKey`, with their first frame's RSV bits. */
  #shared: Map<string, { frame: Uint8Array; rsv: number }> | undefined;

  /** Prepares `data`: a string as text, bytes as binary (not copied). */
  constructor(data: string | ArrayBuffer | ArrayBufferView) {
    this.text = typeof data === "string";
    this.payload = typeof data === "string"
      ? encoder.encode(data)
      : toBytes(data);
  }

  /** The opcode of its frame. */
  get opcode(): number {
    return this.text ? Opcode.Text : Opcode.Binary;
  }

  /**
   * The unmasked frame for a connection whose active extensions are
   * `active`, with the RSV bits its extension must be told about; or
   * undefined when that connection has to encode the message itself (more
   * than one extension, or one that cannot share).
   */
  frameFor(
    active: readonly Extension[],
  ): { frame: Uint8Array; rsv: number; extension?: Extension } | undefined {
    if (active.length === 0) {
      const frame = this.#plain ??= frameOf(this.opcode, this.payload, 0);
      return { frame, rsv: 0 };
    }
    const extension = active[0];
    const key = extension.shareKey;
    if (
      active.length > 1 || key === undefined ||
      extension.encodeShared === undefined
    ) {
      return undefined;
    }
    const shared = this.#shared ??= new Map();
    let entry = shared.get(key);
    if (entry === undefined) {
      const encoded = extension.encodeShared(this.payload, this.opcode);
      entry = encoded.rsv === 0
        ? {
          frame: this.#plain ??= frameOf(this.opcode, this.payload, 0),
          rsv: 0,
        }
        : {
          frame: frameOf(this.opcode, encoded.payload, encoded.rsv),
          rsv: encoded.rsv,
        };
      shared.set(key, entry);
    }
    return { frame: entry.frame, rsv: entry.rsv, extension };
  }
}

/** One unmasked, final frame: header and payload in one buffer. */
function frameOf(opcode: number, payload: Uint8Array, rsv: number): Uint8Array {
  const length = payload.length;
  const header = frameHeaderSize(length, false);
  const frame = new Uint8Array(header + length);
  writeFrameHeader(frame, 0, opcode, length, true, rsv, false);
  frame.set(payload, header);
  return frame;
}
