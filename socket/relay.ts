/**
 * The contract between a server's topics and a relay: the piece that
 * carries every publish to the server's peers in other processes (through
 * Redis, NATS, a cluster's IPC channel…), and back. A relay is given to
 * `serve({ relay })`; the server calls {@linkcode Relay.start} once, then
 * {@linkcode Relay.publish} for each local publish and
 * {@linkcode Relay.subscribe}/{@linkcode Relay.unsubscribe} as local
 * interest in a topic starts and ends. The relay hands messages published
 * elsewhere to {@linkcode RelayHost.deliver}.
 *
 * The delivery contract every relay keeps: each message reaches every other
 * process exactly once, in publish order per publisher and topic, and never
 * comes back to the process that published it (the server has delivered it
 * to its own subscribers already). While the broker is unreachable the relay
 * queues publishes in memory, up to a bound, oldest dropped first (counted
 * in {@linkcode RelayStats.dropped}), and resubscribes and drains the queue
 * in order once it is back.
 *
 * The wire form ({@linkcode encodeEnvelope}) is shared by the relays, so
 * processes on different runtimes understand each other.
 *
 * @example
 * ```ts
 * import { decodeEnvelope, encodeEnvelope } from "./relay.ts";
 *
 * const bytes = encodeEnvelope({
 *   origin: "n1", topic: "chat", id: "n1-7", data: "hello",
 * });
 * decodeEnvelope(bytes)?.data; // "hello"
 * ```
 *
 * @module
 */

/** One published message as topics and relays carry it. */
export interface TopicMessage {
  /** The topic it was published to. */
  topic: string;
  /** Its id: unique, never reused (see `WebSocketServer.publish`). */
  id: string;
  /** The payload as published: a string is sent as text, bytes as binary. */
  data: string | Uint8Array;
}

/** A message on the wire between processes: who published it, too. */
export interface Envelope extends TopicMessage {
  /** The publishing server's node id ({@linkcode RelayHost.node}). */
  origin: string;
}

/** What a relay reports, for logs and metrics. */
export type RelayEvent =
  /** The broker became unreachable; publishes are being queued. */
  | { type: "outage"; error?: unknown }
  /** The broker is back; the queue drained (`drained` messages). */
  | { type: "restored"; drained: number }
  /** The first message dropped from a full queue since the last restore. */
  | { type: "dropped"; topic: string; id: string }
  /** Something unexpected (a bad envelope, a client error). */
  | { type: "error"; error: unknown };

/** Counters a relay keeps; read them for metrics. */
export interface RelayStats {
  /** Local publishes handed to the broker. */
  published: number;
  /** Messages from other processes handed to the host. */
  delivered: number;
  /** Publishes waiting for the broker now. */
  queued: number;
  /** Publishes dropped because the queue was full (oldest first). */
  dropped: number;
  /** Whether the broker is reachable, as far as the relay knows. */
  connected: boolean;
}

/** A page of history: what followed an id, or that the id is gone. */
export type HistoryPage =
  /** The messages after the id (exclusive), oldest first. */
  | { found: true; messages: TopicMessage[] }
  /** The id is not (or no longer) in the history: resync instead. */
  | { found: false };

/** Keeps the last messages per topic, for `subscribe(topic, { since })`. */
export interface History {
  /** Records a message (local or relayed) in the topic's history. */
  record?(message: TopicMessage): void;
  /** The messages of `topic` after `since`, or that `since` is gone. */
  after(topic: string, since: string): HistoryPage | Promise<HistoryPage>;
}

/** What the server gives its relay. */
export interface RelayHost {
  /** This server's node id: the `origin` of its envelopes. */
  readonly node: string;
  /** Hands a message published by another process to local subscribers. */
  deliver(message: TopicMessage): void;
  /** The topics with local subscribers now (to resubscribe after a reconnect). */
  topics(): Iterable<string>;
  /** Reports an event (never throws). */
  report(event: RelayEvent): void;
}

/** Carries publishes between server processes; see the module doc. */
export interface Relay {
  /** Starts carrying, for `host`; called once, by the server. */
  start(host: RelayHost): Promise<void>;
  /** Carries a local publish to the other processes (never throws). */
  publish(message: TopicMessage): void;
  /** The first local subscriber of `topic` arrived. */
  subscribe(topic: string): void;
  /** The last local subscriber of `topic` left. */
  unsubscribe(topic: string): void;
  /** The relay's history, when it keeps one (shared by all processes). */
  readonly history?: History;
  /** The counters. */
  readonly stats: RelayStats;
  /** Stops carrying (the user's broker clients are not closed). */
  close(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** The envelope format's version byte. */
const VERSION = 1;
const TEXT = 1;

/**
 * The wire form of an envelope: a version byte, a flags byte (1: text),
 * then `origin`, `topic` and `id` as UTF-8 each preceded by a 16-bit
 * big-endian length, then the payload.
 */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  const origin = encoder.encode(envelope.origin);
  const topic = encoder.encode(envelope.topic);
  const id = encoder.encode(envelope.id);
  const text = typeof envelope.data === "string";
  const data = text
    ? encoder.encode(envelope.data as string)
    : envelope.data as Uint8Array;
  for (const field of [origin, topic, id]) {
    if (field.length > 0xffff) {
      throw new RangeError("wskit: envelope field longer than 65535 bytes");
    }
  }
  const out = new Uint8Array(
    8 + origin.length + topic.length + id.length + data.length,
  );
  out[0] = VERSION;
  out[1] = text ? TEXT : 0;
  let at = 2;
  for (const field of [origin, topic, id]) {
    out[at] = field.length >>> 8;
    out[at + 1] = field.length & 0xff;
    out.set(field, at + 2);
    at += 2 + field.length;
  }
  out.set(data, at);
  return out;
}

/** Reads an envelope; undefined if `bytes` is not one. */
export function decodeEnvelope(bytes: Uint8Array): Envelope | undefined {
  if (bytes.length < 8 || bytes[0] !== VERSION) return undefined;
  const fields: string[] = [];
  let at = 2;
  for (let i = 0; i < 3; i++) {
    if (at + 2 > bytes.length) return undefined;
    const length = (bytes[at] << 8) | bytes[at + 1];
    if (at + 2 + length > bytes.length) return undefined;
    fields.push(decoder.decode(bytes.subarray(at + 2, at + 2 + length)));
    at += 2 + length;
  }
  const payload = bytes.subarray(at);
  const [origin, topic, id] = fields;
  if (origin === "" || id === "") return undefined;
  let data: string | Uint8Array;
  if ((bytes[1] & TEXT) !== 0) {
    try {
      data = new TextDecoder("utf-8", { fatal: true }).decode(payload);
    } catch {
      return undefined;
    }
  } else {
    data = payload.slice();
  }
  return { origin, topic, id, data };
}

/**
 * The bounded in-memory queue a relay keeps while its broker is
 * unreachable: oldest first; past `limit` messages the oldest is dropped and
 * counted in `stats.dropped`, and the first drop since the last restore is
 * reported once.
 */
export class OutageQueue {
  readonly #limit: number;
  readonly #stats: RelayStats;
  #items: TopicMessage[] = [];
  #head = 0;
  #reportedDrop = false;

  /** A queue of at most `limit` messages, counting into `stats`. */
  constructor(limit: number, stats: RelayStats) {
    this.#limit = Math.max(0, limit);
    this.#stats = stats;
  }

  /** Messages waiting. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Queues `message`, dropping the oldest when full; reports the first drop. */
  push(message: TopicMessage, host: RelayHost | undefined): void {
    this.#items.push(message);
    while (this.length > this.#limit) {
      const dropped = this.#items[this.#head++];
      this.#stats.dropped++;
      if (!this.#reportedDrop) {
        this.#reportedDrop = true;
        host?.report({ type: "dropped", topic: dropped.topic, id: dropped.id });
      }
    }
    this.#compact();
    this.#stats.queued = this.length;
  }

  /** Removes and returns the oldest message, if any. */
  shift(): TopicMessage | undefined {
    if (this.length === 0) return undefined;
    const message = this.#items[this.#head++];
    this.#compact();
    this.#stats.queued = this.length;
    return message;
  }

  /** Puts `message` back at the front (a send that failed). */
  unshift(message: TopicMessage): void {
    if (this.#head > 0) this.#items[--this.#head] = message;
    else this.#items.unshift(message);
    this.#stats.queued = this.length;
  }

  /** The broker is back: the next drop is reported again. */
  restored(): void {
    this.#reportedDrop = false;
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    }
  }
}
