/**
 * A Node.js `Duplex` over a wskit WebSocket, for libraries that speak a
 * byte-stream protocol over `stream.Duplex` — here, the `aedes` MQTT broker.
 *
 * It goes through wskit's streams API ({@linkcode WebSocketStream}), which
 * carries backpressure both ways: when the consumer of the duplex stops
 * reading, the WebSocket stops reading from the network; a write completes
 * once the socket's send buffer is below its high-water mark.
 *
 * MQTT over WebSocket rules (MQTT 3.1.1 §6 and 5.0 §6) it follows: every
 * write goes out as a binary message (writes corked together go as one);
 * message boundaries mean nothing to the byte stream; and a text message
 * is a protocol violation, answered by closing the connection (1003).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import { type WebSocket, WebSocketStream } from "../../mod.ts";

/** Wraps an open (or opening) wskit `socket` as a byte `Duplex`. */
export function webSocketDuplex(socket: WebSocket): Duplex {
  const ws = new WebSocketStream(socket);
  let reader: ReadableStreamDefaultReader<string | Uint8Array> | undefined;
  let writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  const ready = ws.opened.then(({ readable, writable }) => {
    reader = readable.getReader();
    writer = writable.getWriter();
  });
  let pumping = false;

  /** Moves messages into the duplex until it wants no more (or the end). */
  const pump = async (): Promise<void> => {
    if (pumping) return;
    pumping = true;
    try {
      await ready;
      for (;;) {
        const { value, done } = await reader!.read();
        if (done) {
          duplex.push(null);
          return;
        }
        if (typeof value === "string") {
          socket.closeWithCode(1003, "MQTT needs binary frames");
          duplex.destroy(new Error("MQTT data arrived in a text frame"));
          return;
        }
        const bytes = Buffer.from(
          value.buffer,
          value.byteOffset,
          value.byteLength,
        );
        if (!duplex.push(bytes)) return; // `read()` calls pump() again
      }
    } catch (error) {
      duplex.destroy(error as Error);
    } finally {
      pumping = false;
    }
  };

  const send = (bytes: Uint8Array, callback: (error?: Error) => void) => {
    ready.then(() => writer!.write(bytes)).then(
      () => callback(),
      (error) => callback(error as Error),
    );
  };

  const duplex = new Duplex({
    read() {
      pump();
    },
    write(chunk: Buffer, _encoding, callback) {
      send(chunk, callback);
    },
    writev(chunks, callback) {
      send(Buffer.concat(chunks.map((c) => c.chunk as Buffer)), callback);
    },
    final(callback) {
      ws.close({ closeCode: 1000 });
      callback();
    },
    destroy(error, callback) {
      if (socket.readyState === socket.OPEN) {
        if (error) socket.closeWithCode(1011, "stream error");
        else ws.close({ closeCode: 1000 });
      }
      callback(error);
    },
  });
  return duplex;
}
