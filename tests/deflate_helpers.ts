/** Helpers for the permessage-deflate tests (in-memory handshakes, payloads, frames). */
import { Connection, type ConnectionEvent } from "../core/connection.ts";
import type { Extension, ExtensionNegotiator } from "../core/extension.ts";
import {
  type DeflateCodec,
  permessageDeflate,
  type PerMessageDeflateOptions,
} from "../core/permessage_deflate.ts";
import { zlibCodec } from "../adapters/deflate.ts";
import { concat, pump } from "./helpers.ts";

/**
 * The zlib codec with `contextTakeover` forced (the real one says false on
 * Deno, whose node:zlib cannot prime a compressor), for negotiation tables
 * whose expected strings must not depend on the runtime.
 */
export function codecWith(contextTakeover: boolean): DeflateCodec {
  return {
    deflate: zlibCodec.deflate,
    inflate: zlibCodec.inflate,
    minWindowBits: 9,
    contextTakeover,
  };
}

/** A permessage-deflate negotiator over the runtime's zlib codec. */
export function pmd(
  options: PerMessageDeflateOptions = {},
  codec: DeflateCodec = zlibCodec,
): ExtensionNegotiator {
  return permessageDeflate({ ...options, codec });
}

/** Wraps a negotiator so that the instances it creates can be inspected. */
export function capture(
  negotiator: ExtensionNegotiator,
): { negotiator: ExtensionNegotiator; instances: Extension[] } {
  const instances: Extension[] = [];
  const keep = (ext: Extension | undefined) => {
    if (ext !== undefined) instances.push(ext);
    return ext;
  };
  return {
    instances,
    negotiator: {
      name: negotiator.name,
      offer: () => negotiator.offer(),
      accept: (params) => keep(negotiator.accept(params))!,
      respond: (offers) => keep(negotiator.respond(offers)),
    },
  };
}

/** Options for {@linkcode handshake}. */
export interface HandshakeSetup {
  client?: ExtensionNegotiator[];
  server?: ExtensionNegotiator[];
  /** A raw offer header sent by the client (in front of its negotiators' offers). */
  offer?: string;
  /** A raw response header the server answers with (bypassing its negotiators). */
  response?: string;
  maxMessageSize?: number;
}

/** Runs an opening handshake in memory; returns both ends and the client's events. */
export function handshake(setup: HandshakeSetup): {
  client: Connection;
  server: Connection;
  events: ConnectionEvent[];
} {
  const client = Connection.client("ws://h/", {
    extensionNegotiators: setup.client ?? [],
    extensions: setup.offer,
    maxMessageSize: setup.maxMessageSize,
  });
  const server = Connection.server({
    extensionNegotiators: setup.server ?? [],
    maxMessageSize: setup.maxMessageSize,
  });
  for (const event of pump(client, server)) {
    if (event.type === "request") {
      server.accept(
        setup.response === undefined ? {} : { extensions: setup.response },
      );
    }
  }
  const events = pump(server, client);
  return { client, server, events };
}

/** A small deterministic PRNG (mulberry32). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "the quick brown fox jumps over lazy dog websocket frame message deflate " +
  "window context takeover server client payload compress inflate sliding " +
  "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod"
).split(" ");

/** Compressible text of `size` bytes (ASCII words, some random numbers). */
export function text(size: number, seed: number): string {
  const rnd = random(seed);
  let out = "";
  while (out.length < size) {
    out += rnd() < 0.1
      ? String(Math.floor(rnd() * 1e6)) + " "
      : WORDS[Math.floor(rnd() * WORDS.length)] + " ";
  }
  return out.slice(0, size);
}

/** Random (incompressible) bytes. */
export function noise(size: number, seed: number): Uint8Array {
  const rnd = random(seed);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(rnd() * 256);
  return out;
}

/** A frame parsed from bytes (unmasked). */
export interface ParsedFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  payload: Uint8Array;
}

/** Parses every frame in `chunks` (a connection's output). */
export function parseFrames(chunks: readonly Uint8Array[]): ParsedFrame[] {
  const bytes = concat(...chunks);
  const frames: ParsedFrame[] = [];
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i];
    const b1 = bytes[i + 1];
    let length = b1 & 0x7f;
    let p = i + 2;
    if (length === 126) {
      length = (bytes[p] << 8) | bytes[p + 1];
      p += 2;
    } else if (length === 127) {
      length = 0;
      for (let k = 0; k < 8; k++) length = length * 256 + bytes[p + k];
      p += 8;
    }
    let mask: Uint8Array | undefined;
    if (b1 & 0x80) {
      mask = bytes.subarray(p, p + 4);
      p += 4;
    }
    const payload = bytes.slice(p, p + length);
    if (mask) {
      for (let k = 0; k < payload.length; k++) payload[k] ^= mask[k & 3];
    }
    frames.push({
      fin: (b0 & 0x80) !== 0,
      rsv: (b0 >> 4) & 7,
      opcode: b0 & 0x0f,
      payload,
    });
    i = p + length;
  }
  return frames;
}
