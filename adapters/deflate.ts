/**
 * permessage-deflate's codec over `node:zlib`, for Node.js, Deno and Bun:
 * one-shot `deflateRawSync`/`inflateRawSync` calls with a sync flush, the
 * negotiated window, a preset dictionary for context takeover, and
 * `maxOutputLength` so that decompression stops at the message size limit
 * (a small message that would inflate to gigabytes fails with 1009 having
 * allocated at most about the limit).
 *
 * Runtime differences are handled here, detected once on first use rather
 * than by runtime name:
 * - Deno's `node:zlib` (2.x) ignores the `dictionary` option for raw
 *   streams. Decompression then primes the window another way: the
 *   dictionary goes in front of the data as a stored (uncompressed) DEFLATE
 *   block, and its bytes are cut from the output. Compression cannot be
 *   primed that way, so `contextTakeover` is false there: each message is
 *   compressed alone and the handshake says so.
 * - zlib has no 8-bit window for raw deflate (`minWindowBits` is 9); see
 *   `core/permessage_deflate.ts` for what that means.
 * - `inflateLater` (large received messages) streams through an
 *   `InflateRaw` in 64 KiB output chunks, with the same input, window and
 *   dictionary (or stored prefix) as the synchronous path, and stops as
 *   soon as the output passes `maxOutput`. On Node.js and Bun the work runs
 *   off the event loop (libuv's thread pool; Bun's own). Deno's `node:zlib`
 *   does asynchronous work on the main thread, all of one write at once
 *   (its one-shot `inflateRaw` too), so there the input is written in
 *   512-byte slices (at most about 512 KiB of output each: DEFLATE's
 *   largest ratio is 1032:1); all messages being inflated share about 2 ms
 *   of slices per event-loop turn (`./slices.ts`), then a timer lets I/O
 *   and the other connections run. That one choice is made by runtime
 *   (`globalThis.Deno`), since no result differs, only the scheduling.
 *
 * This module imports `node:zlib`; browsers have no synchronous DEFLATE
 * (`CompressionStream` is async), so there permessage-deflate is neither
 * offered nor accepted.
 *
 * @example
 * ```ts
 * import { serve } from "../mod.ts";
 *
 * // Negotiated by default; tune it (or pass `false` to turn it off):
 * const server = await serve({
 *   port: 0,
 *   perMessageDeflate: { threshold: 256, serverMaxWindowBits: 12 },
 * });
 * await server.close();
 * ```
 *
 * @module
 */

import { Buffer, constants as bufferConstants } from "node:buffer";
import {
  constants,
  createInflateRaw,
  deflateRawSync,
  inflateRawSync,
} from "node:zlib";
import type { DecodeOutcome, ExtensionNegotiator } from "../core/extension.ts";
import {
  type DeflateCodec,
  type DeflateOptions,
  type InflateOptions,
  permessageDeflate,
  type PerMessageDeflateOptions,
} from "../core/permessage_deflate.ts";
import { sliceSoon } from "./slices.ts";

const SYNC_FLUSH = constants.Z_SYNC_FLUSH;
const MAX_OUTPUT = Math.min(bufferConstants.MAX_LENGTH, 2 ** 32);

/** What this runtime's `node:zlib` does with `dictionary` (raw mode). */
interface Support {
  inflateDictionary: boolean;
  deflateDictionary: boolean;
}

let support: Support | undefined;

const PROBE = new TextEncoder().encode("permessage-deflate dictionary probe");
/** PROBE deflated with PROBE as its dictionary: one back-reference. */
const PROBE_DEFLATED = new Uint8Array([
  0x2a,
  0x20,
  0xac,
  0x04,
  0x00,
  0x00,
  0x00,
  0xff,
  0xff,
]);

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function detect(): Support {
  if (support !== undefined) return support;
  let inflateDictionary = false;
  try {
    inflateDictionary = equalBytes(
      inflateRawSync(PROBE_DEFLATED, {
        dictionary: PROBE,
        finishFlush: SYNC_FLUSH,
      }),
      PROBE,
    );
  } catch {
    // the dictionary was ignored: "invalid distance too far back"
  }
  support = { inflateDictionary, deflateDictionary: false };
  try {
    const primed = deflateRawSync(PROBE, {
      dictionary: PROBE,
      finishFlush: SYNC_FLUSH,
    });
    const plain = deflateRawSync(PROBE, { finishFlush: SYNC_FLUSH });
    support.deflateDictionary = primed.length < plain.length &&
      equalBytes(
        inflate(primed, { windowBits: 15, dictionary: PROBE, maxOutput: 64 }) ??
          new Uint8Array(0),
        PROBE,
      );
  } catch {
    // leave it false: compress without context
  }
  return support;
}

/**
 * zlib's output buffer size for a call: near the expected output, so small
 * messages do not each allocate (and keep alive) 16 KiB and large ones are
 * not gathered from many 16 KiB pieces.
 */
function chunkSize(expected: number, max: number): number {
  let size = 1024;
  while (size < expected && size < max) size *= 2;
  return size;
}

/** A stored DEFLATE block holding `dictionary`, then `data`. */
function withStoredPrefix(
  dictionary: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(5 + dictionary.length + data.length);
  const n = dictionary.length; // at most 32 KiB: one stored block suffices
  out[0] = 0x00; // BFINAL 0, BTYPE 00 (stored), padded to the byte
  out[1] = n & 0xff;
  out[2] = n >>> 8;
  out[3] = ~n & 0xff;
  out[4] = (~n >>> 8) & 0xff;
  out.set(dictionary, 5);
  out.set(data, 5 + n);
  return out;
}

function deflate_(data: Uint8Array, options: DeflateOptions): Uint8Array {
  const dictionary = options.dictionary !== undefined &&
      detect().deflateDictionary
    ? options.dictionary
    : undefined;
  return deflateRawSync(data, {
    windowBits: options.windowBits,
    level: options.level,
    memLevel: options.memLevel ?? 8,
    dictionary,
    finishFlush: SYNC_FLUSH,
    chunkSize: chunkSize(data.length, 64 * 1024),
  });
}

/**
 * What zlib is given for `data`: the input (with the dictionary as a stored
 * prefix where `node:zlib` ignores `dictionary`) and how many leading
 * output bytes are that prefix, to cut. Shared by both inflate paths, so
 * they decode the same bytes the same way.
 */
function prepareInflate(
  data: Uint8Array,
  options: InflateOptions,
): { input: Uint8Array; dictionary: Uint8Array | undefined; skip: number } {
  let { dictionary } = options;
  if (dictionary !== undefined && dictionary.length === 0) {
    dictionary = undefined;
  }
  if (dictionary !== undefined && !detect().inflateDictionary) {
    return {
      input: withStoredPrefix(dictionary, data),
      dictionary: undefined,
      skip: dictionary.length,
    };
  }
  return { input: data, dictionary, skip: 0 };
}

function inflate(
  data: Uint8Array,
  options: InflateOptions,
): Uint8Array | undefined {
  const { maxOutput } = options;
  const { input, dictionary, skip } = prepareInflate(data, options);
  let out: Uint8Array;
  try {
    out = inflateRawSync(input, {
      windowBits: options.windowBits,
      dictionary,
      finishFlush: SYNC_FLUSH,
      maxOutputLength: Math.max(1, Math.min(maxOutput, MAX_OUTPUT) + skip),
      chunkSize: chunkSize(4 * data.length, 128 * 1024),
    });
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
      return undefined;
    }
    throw error;
  }
  if (out.length - skip > maxOutput) return undefined;
  return skip === 0 ? out : out.slice(skip);
}

/**
 * Output chunk of `inflateLater`'s first pass. An output that fits is used
 * as it is; a longer one is inflated again into one buffer of its exact
 * size (see `inflateLater`).
 */
const LATER_CHUNK = 1024 * 1024;
/**
 * Where asynchronous zlib work runs on the event loop (Deno): the input
 * bytes written at a time, so one write inflates at most about 512 KiB.
 */
const SLICE: number | undefined =
  typeof (globalThis as { Deno?: unknown }).Deno === "object" ? 512 : undefined;
/** What one pass of `inflateLater` found. */
type Pass =
  | { error: unknown }
  | { over: true }
  | { total: number; output: Uint8Array | undefined };

/**
 * One streaming inflate of `input`, off the loop (see the module doc).
 * Reports an error, `over` once the output passes `limit` bytes, or the
 * output's length and the output: joined when it is at most `LATER_CHUNK`
 * bytes, else undefined; with `size` (the output's known length), gathered
 * into one buffer of that size as it arrives (with no copy where it comes
 * as one chunk).
 */
function inflatePass(
  input: Uint8Array,
  windowBits: number,
  dictionary: Uint8Array | undefined,
  limit: number,
  size: number | undefined,
  done: (pass: Pass) => void,
): void {
  let finished = false;
  const finish = (pass: Pass): void => {
    if (finished) return;
    finished = true;
    done(pass);
  };
  let stream: ReturnType<typeof createInflateRaw>;
  try {
    stream = createInflateRaw({
      windowBits,
      dictionary,
      finishFlush: SYNC_FLUSH,
      chunkSize: size ?? LATER_CHUNK,
    });
  } catch (error) {
    queueMicrotask(() => finish({ error }));
    return;
  }
  let chunks: Uint8Array[] = [];
  let target: Uint8Array | undefined;
  let total = 0;
  stream.on("data", (chunk: Uint8Array) => {
    if (finished) return;
    const at = total;
    total += chunk.length;
    if (total > limit || (size !== undefined && total > size)) {
      chunks = [];
      stream.destroy();
      finish({ over: true });
    } else if (size === undefined) {
      if (total <= LATER_CHUNK) chunks.push(chunk);
      else chunks = [];
    } else if (at === 0 && chunk.length === size) {
      target = chunk;
    } else {
      target ??= Buffer.allocUnsafe(size);
      target.set(chunk, at);
    }
  });
  stream.on("error", (error: Error) => finish({ error }));
  stream.on("end", () => {
    let output = target;
    if (size === undefined && total <= LATER_CHUNK) {
      output = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
    }
    chunks = [];
    finish({ total, output });
  });
  if (SLICE === undefined) {
    stream.end(input);
    return;
  }
  let at = 0;
  const next = (): void => {
    if (finished) return;
    if (at >= input.length) {
      stream.end();
      return;
    }
    const slice = input.subarray(at, at + SLICE);
    at += slice.length;
    stream.write(slice, () => sliceSoon(next));
  };
  sliceSoon(next);
}

/**
 * `inflate` off the event loop (see the module doc): the same result,
 * reported to `done` once, asynchronously. Nothing large is copied in one
 * go on the loop: an output longer than `LATER_CHUNK` (joining its chunks
 * would copy the whole message at once, and first-touch page faults make
 * that about 3.5 ms per MiB on a VM) is inflated a second time, off the
 * loop too, into one buffer of its exact size.
 */
function inflateLater(
  data: Uint8Array,
  options: InflateOptions,
  done: (outcome: DecodeOutcome) => void,
): void {
  let prepared;
  try {
    prepared = prepareInflate(data, options);
  } catch (error) {
    queueMicrotask(() => done({ error }));
    return;
  }
  const { input, dictionary, skip } = prepared;
  const { windowBits } = options;
  const limit = Math.min(options.maxOutput, MAX_OUTPUT) + skip;
  /** The message in a pass's output (a Buffer, as `inflateRawSync` gives). */
  const message = (total: number, output: Uint8Array | undefined) => {
    const out = output ?? Buffer.alloc(0);
    return skip === 0 ? out : out.subarray(skip, total);
  };
  inflatePass(input, windowBits, dictionary, limit, undefined, (pass) => {
    if ("error" in pass) return done({ error: pass.error });
    if ("over" in pass) return done({ output: undefined });
    if (pass.total <= LATER_CHUNK) {
      return done({ output: message(pass.total, pass.output) });
    }
    const size = pass.total;
    inflatePass(input, windowBits, dictionary, limit, size, (again) => {
      if ("error" in again) return done({ error: again.error });
      if ("over" in again || again.total !== size) {
        return done({ error: new Error("inflate gave two different results") });
      }
      done({ output: message(size, again.output) });
    });
  });
}

/**
 * The {@linkcode DeflateCodec} over `node:zlib` (Node.js, Deno, Bun). Its
 * `contextTakeover` is false where `node:zlib` cannot prime a compressor
 * with a dictionary (Deno 2.x).
 */
export const zlibCodec: DeflateCodec = {
  deflate: deflate_,
  inflate,
  inflateLater,
  minWindowBits: 9,
  get contextTakeover(): boolean {
    return detect().deflateDictionary;
  },
};

/**
 * The permessage-deflate negotiator over `node:zlib`, for a `Connection`'s
 * `extensionNegotiators`. (`serve()` and `WebSocket` take
 * `perMessageDeflate` options instead.)
 */
export function deflate(
  options: PerMessageDeflateOptions = {},
): ExtensionNegotiator {
  return permessageDeflate({ ...options, codec: zlibCodec });
}
