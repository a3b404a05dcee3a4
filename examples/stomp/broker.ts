/**
 * A minimal STOMP broker (1.2, also 1.1 and 1.0) over wskit server sockets.
 *
 * - **Connect**: the first frame must be `CONNECT` or `STOMP`. The version is
 *   the highest in both the client's `accept-version` (1.0 when absent) and
 *   1.2/1.1/1.0, preferring the one the WebSocket subprotocol names
 *   (`v12.stomp` → 1.2). `CONNECTED` carries `version`, `heart-beat`,
 *   `session` and `server`. An optional `authenticate(login, passcode)`
 *   hook refuses with an ERROR.
 * - **Heart-beats**: client `cx,cy` and broker `sx,sy` give broker→client
 *   every `max(sx, cy)` ms (an EOL when nothing else was sent) and
 *   client→broker every `max(cx, sy)` ms; 0 on either side disables that
 *   direction. A client silent for twice its interval is closed (4000).
 * - **Destinations**: `/queue/…` delivers each message to one subscriber
 *   (round robin), keeping messages while nobody listens and redelivering
 *   NACKed or unacknowledged ones; anything else (e.g. `/topic/…`) delivers
 *   to every subscriber present.
 * - **SUBSCRIBE** with `id` and `ack` = `auto`, `client` (cumulative) or
 *   `client-individual`; **UNSUBSCRIBE**; **SEND** → **MESSAGE** with
 *   `destination`, `message-id`, `subscription`, (1.2, acked modes) `ack`,
 *   the sender's own headers, and `content-length`; **ACK** and **NACK**;
 *   **BEGIN**, **COMMIT** and **ABORT** transactions over SEND, ACK and NACK.
 * - **Receipts**: any frame with a `receipt` header is answered by a
 *   `RECEIPT` once handled; `DISCONNECT` answers its receipt, then closes.
 * - **Bad input** (a malformed frame, an unknown command, a missing header,
 *   an unknown subscription or ack id) gets an `ERROR` frame with a
 *   `message` header and details in the body, and the connection is closed
 *   (WebSocket close 1000 after the ERROR, as STOMP requires the close).
 *
 * @module
 */

import type { WebSocket } from "../../mod.ts";
import {
  FrameParser,
  header,
  serializeFrame,
  type StompFrame,
  StompSyntaxError,
} from "./frame.ts";

/** STOMP versions this broker speaks, most preferred first. */
export const STOMP_VERSIONS: readonly string[] = ["1.2", "1.1", "1.0"];

/** The WebSocket subprotocols for those versions, most preferred first. */
export const STOMP_SUBPROTOCOLS: readonly string[] = [
  "v12.stomp",
  "v11.stomp",
  "v10.stomp",
];

/** Broker options. */
export interface BrokerOptions {
  /**
   * The broker's heart-beat: `[sx, sy]` = can send every `sx` ms, wants to
   * receive every `sy` ms (default `[10000, 10000]`; 0 = never).
   */
  heartBeat?: [number, number];
  /** Checks `login`/`passcode` from CONNECT; false refuses. Default: allow all. */
  authenticate?: (login?: string, passcode?: string) => boolean;
  /** Most octets in one frame (default 1 MiB). */
  maxFrameSize?: number;
  /** Most messages a queue keeps while nobody consumes (default 1000). */
  maxQueued?: number;
}

type AckMode = "auto" | "client" | "client-individual";

interface Message {
  id: string;
  destination: string;
  headers: [string, string][];
  body: Uint8Array;
}

interface Delivery {
  message: Message;
  ack: string;
}

interface Subscription {
  id: string;
  destination: string;
  ack: AckMode;
  session: Session;
  /** Deliveries awaiting ACK/NACK, oldest first. */
  pending: Delivery[];
}

/** Counters the tests and curious readers can look at. */
export interface BrokerStats {
  /** Heart-beats (EOLs between frames) received from clients. */
  heartbeatsReceived: number;
  /** Heart-beats sent to clients. */
  heartbeatsSent: number;
  /** Frames received. */
  frames: number;
  /** ERROR frames sent. */
  errors: number;
}

const RESERVED_SEND_HEADERS = new Set([
  "destination",
  "message-id",
  "subscription",
  "ack",
  "receipt",
  "transaction",
  "content-length",
]);

const text = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The broker: hand it each accepted socket with `handle()`. */
export class StompBroker {
  readonly #options: BrokerOptions;
  readonly #sessions = new Set<Session>();
  readonly #queues = new Map<string, Message[]>();
  readonly #roundRobin = new Map<string, number>();
  #messageCount = 0;
  #sessionCount = 0;
  /** Counters, for monitoring and tests. */
  readonly stats: BrokerStats = {
    heartbeatsReceived: 0,
    heartbeatsSent: 0,
    frames: 0,
    errors: 0,
  };

  /** Creates a broker. */
  constructor(options: BrokerOptions = {}) {
    this.#options = options;
  }

  /** Serves STOMP on an accepted socket until it closes. */
  handle(socket: WebSocket): void {
    const session = new Session(this, socket, `s${++this.#sessionCount}`);
    this.#sessions.add(session);
    socket.addEventListener("close", () => {
      this.#sessions.delete(session);
      session.dispose();
    });
  }

  /** How many subscriptions `destination` has. */
  subscriberCount(destination: string): number {
    return this.#subscriptionsOn(destination).length;
  }

  /** How many messages wait in queue `destination` for a subscriber. */
  queued(destination: string): number {
    return this.#queues.get(destination)?.length ?? 0;
  }

  #subscriptionsOn(destination: string): Subscription[] {
    const out: Subscription[] = [];
    for (const session of this.#sessions) {
      for (const sub of session.subscriptions.values()) {
        if (sub.destination === destination) out.push(sub);
      }
    }
    return out;
  }

  /** @internal */
  get options(): BrokerOptions {
    return this.#options;
  }

  /** @internal Builds a message from a SEND frame and routes it. */
  publish(frame: StompFrame, destination: string): void {
    const headers = frame.headers.filter(([name]) =>
      !RESERVED_SEND_HEADERS.has(name)
    );
    this.route({
      id: `m${++this.#messageCount}`,
      destination,
      headers,
      body: frame.body,
    });
  }

  /** @internal Delivers `message` to its subscribers (or queues it). */
  route(message: Message): void {
    const subs = this.#subscriptionsOn(message.destination);
    if (!message.destination.startsWith("/queue/")) {
      for (const sub of subs) sub.session.deliver(sub, message);
      return;
    }
    if (subs.length === 0) {
      const queue = this.#queues.get(message.destination) ?? [];
      queue.push(message);
      const max = this.#options.maxQueued ?? 1000;
      if (queue.length > max) queue.shift(); // drop the oldest
      this.#queues.set(message.destination, queue);
      return;
    }
    const turn = (this.#roundRobin.get(message.destination) ?? 0) %
      subs.length;
    this.#roundRobin.set(message.destination, turn + 1);
    subs[turn].session.deliver(subs[turn], message);
  }

  /**
   * @internal Gives NACKed or unacknowledged queue messages back: to a
   * subscriber if there is one, else to the front of their queue.
   */
  requeue(messages: readonly Message[]): void {
    const front = new Map<string, Message[]>();
    for (const message of messages) {
      const destination = message.destination;
      if (!destination.startsWith("/queue/")) continue;
      if (this.#subscriptionsOn(destination).length > 0) {
        this.route(message);
      } else {
        front.set(destination, [...front.get(destination) ?? [], message]);
      }
    }
    for (const [destination, list] of front) {
      this.#queues.set(destination, [
        ...list,
        ...this.#queues.get(destination) ?? [],
      ]);
    }
  }

  /** @internal Hands queued messages to a new subscriber. */
  drain(destination: string): void {
    const queue = this.#queues.get(destination);
    if (queue === undefined) return;
    this.#queues.delete(destination);
    for (const message of queue) this.route(message);
  }
}

/** One client connection's STOMP state. */
class Session {
  readonly #broker: StompBroker;
  readonly #socket: WebSocket;
  readonly #id: string;
  readonly #parser: FrameParser;
  /** Subscriptions by id. */
  readonly subscriptions = new Map<string, Subscription>();
  readonly #transactions = new Map<string, (() => void)[]>();
  #version = "";
  #ackCount = 0;
  #lastSent = Date.now();
  #lastReceived = Date.now();
  #timers: ReturnType<typeof setInterval>[] = [];
  #done = false;

  constructor(broker: StompBroker, socket: WebSocket, id: string) {
    this.#broker = broker;
    this.#socket = socket;
    this.#id = id;
    this.#parser = new FrameParser({
      maxFrameSize: broker.options.maxFrameSize,
    });
    socket.binaryType = "uint8array";
    socket.addEventListener("message", (event) => {
      this.#receive((event as MessageEvent).data);
    });
  }

  #receive(data: string | Uint8Array): void {
    if (this.#done) return;
    this.#lastReceived = Date.now();
    let items;
    try {
      items = this.#parser.push(data);
    } catch (error) {
      if (!(error instanceof StompSyntaxError)) throw error;
      this.#error("malformed frame", undefined, error.message);
      return;
    }
    for (const item of items) {
      if (this.#done) return;
      if (item.type === "heartbeat") {
        this.#broker.stats.heartbeatsReceived++;
        continue;
      }
      this.#broker.stats.frames++;
      try {
        this.#frame(item.frame);
      } catch (error) {
        if (!(error instanceof StompSyntaxError)) throw error;
        this.#error(error.message, item.frame);
      }
    }
  }

  #frame(frame: StompFrame): void {
    const command = frame.command;
    if (this.#version === "") {
      if (command !== "CONNECT" && command !== "STOMP") {
        throw new StompSyntaxError(`expected CONNECT, got ${command}`);
      }
      this.#connect(frame);
      return;
    }
    const transaction = header(frame, "transaction");
    switch (command) {
      case "SEND": {
        const destination = required(frame, "destination");
        this.#inTransaction(
          transaction,
          () => this.#broker.publish(frame, destination),
        );
        break;
      }
      case "SUBSCRIBE":
        this.#subscribe(frame); // sends its receipt before queued messages
        return;
      case "UNSUBSCRIBE": {
        const id = this.#version === "1.0"
          ? header(frame, "id") ?? required(frame, "destination")
          : required(frame, "id");
        const sub = this.subscriptions.get(id);
        if (sub === undefined) {
          throw new StompSyntaxError(`no subscription with id ${id}`);
        }
        this.subscriptions.delete(id);
        this.#broker.requeue(sub.pending.map((d) => d.message));
        break;
      }
      case "ACK":
      case "NACK": {
        const [sub, index] = this.#findDelivery(frame);
        this.#inTransaction(
          transaction,
          () => this.#settle(sub, index, command === "ACK"),
        );
        break;
      }
      case "BEGIN": {
        const id = required(frame, "transaction");
        if (this.#transactions.has(id)) {
          throw new StompSyntaxError(`transaction ${id} already begun`);
        }
        this.#transactions.set(id, []);
        break;
      }
      case "COMMIT":
      case "ABORT": {
        const id = required(frame, "transaction");
        const actions = this.#transactions.get(id);
        if (actions === undefined) {
          throw new StompSyntaxError(`no transaction ${id}`);
        }
        this.#transactions.delete(id);
        if (command === "COMMIT") { for (const action of actions) action(); }
        break;
      }
      case "DISCONNECT":
        this.#receipt(frame);
        this.#done = true;
        this.#socket.close(1000, "DISCONNECT");
        return;
      case "CONNECT":
      case "STOMP":
        throw new StompSyntaxError("already connected");
      default:
        throw new StompSyntaxError(`unknown command ${command}`);
    }
    this.#receipt(frame);
  }

  #connect(frame: StompFrame): void {
    const offered = (header(frame, "accept-version") ?? "1.0").split(",")
      .map((v) => v.trim());
    const common = STOMP_VERSIONS.filter((v) => offered.includes(v));
    if (common.length === 0) {
      this.#error(
        "unsupported STOMP version",
        frame,
        `Supported protocol versions are ${STOMP_VERSIONS.join(" ")}`,
        [["version", STOMP_VERSIONS.join(",")]],
      );
      return;
    }
    // The subprotocol names a version (v12.stomp → 1.2): use it if offered.
    const named = /^v1(\d)\.stomp$/.exec(this.#socket.protocol);
    const wanted = named ? `1.${named[1]}` : "";
    const version = common.includes(wanted) ? wanted : common[0];
    const authenticate = this.#broker.options.authenticate;
    if (
      authenticate !== undefined &&
      !authenticate(header(frame, "login"), header(frame, "passcode"))
    ) {
      this.#error("authentication failed", frame, "bad login or passcode");
      return;
    }
    this.#version = version;
    this.#parser.version = version;
    const [sx, sy] = this.#broker.options.heartBeat ?? [10000, 10000];
    const [cx, cy] = parseHeartBeat(header(frame, "heart-beat"));
    const headers: [string, string][] = [
      ["version", version],
      ["session", this.#id],
      ["server", "wskit-stomp-example/0.1"],
    ];
    if (version !== "1.0") headers.push(["heart-beat", `${sx},${sy}`]);
    this.#send({ command: "CONNECTED", headers, body: new Uint8Array(0) });
    if (version === "1.0") return;
    const outgoing = sx === 0 || cy === 0 ? 0 : Math.max(sx, cy);
    const incoming = cx === 0 || sy === 0 ? 0 : Math.max(cx, sy);
    if (outgoing > 0) {
      this.#timers.push(setInterval(() => {
        if (Date.now() - this.#lastSent < outgoing / 2) return;
        this.#broker.stats.heartbeatsSent++;
        this.#write("\n");
      }, outgoing / 2));
    }
    if (incoming > 0) {
      this.#timers.push(setInterval(() => {
        if (Date.now() - this.#lastReceived <= 2 * incoming) return;
        this.#done = true;
        this.#socket.close(4000, "no heart-beat from the client");
        this.dispose();
      }, incoming));
    }
  }

  #subscribe(frame: StompFrame): void {
    const destination = required(frame, "destination");
    const id = this.#version === "1.0"
      ? header(frame, "id") ?? destination
      : required(frame, "id");
    if (this.subscriptions.has(id)) {
      throw new StompSyntaxError(`subscription id ${id} is already in use`);
    }
    const ack = header(frame, "ack") ?? "auto";
    if (ack !== "auto" && ack !== "client" && ack !== "client-individual") {
      throw new StompSyntaxError(`invalid ack mode ${ack}`);
    }
    this.subscriptions.set(id, {
      id,
      destination,
      ack,
      session: this,
      pending: [],
    });
    this.#receipt(frame);
    this.#broker.drain(destination);
  }

  /** Sends `message` to `sub` as a MESSAGE frame. */
  deliver(sub: Subscription, message: Message): void {
    const headers: [string, string][] = [
      ["destination", message.destination],
      ["message-id", message.id],
      ["subscription", sub.id],
    ];
    if (sub.ack !== "auto") {
      const ack = `${this.#id}-${++this.#ackCount}`;
      if (this.#version === "1.2") headers.push(["ack", ack]);
      sub.pending.push({ message, ack });
    }
    headers.push(...message.headers);
    this.#send({ command: "MESSAGE", headers, body: message.body });
  }

  /** Finds the delivery an ACK/NACK names (by version rules). */
  #findDelivery(frame: StompFrame): [Subscription, number] {
    const v12 = this.#version === "1.2";
    const id = v12 ? required(frame, "id") : required(frame, "message-id");
    const only = header(frame, "subscription");
    if (!v12 && this.#version === "1.1" && only === undefined) {
      required(frame, "subscription");
    }
    for (const sub of this.subscriptions.values()) {
      if (only !== undefined && !v12 && sub.id !== only) continue;
      const index = sub.pending.findIndex((d) =>
        v12 ? d.ack === id : d.message.id === id
      );
      if (index !== -1) return [sub, index];
    }
    throw new StompSyntaxError(`no unacknowledged message ${id}`);
  }

  /** ACKs or NACKs delivery `index` of `sub` (and, in client mode, those before it). */
  #settle(sub: Subscription, index: number, ack: boolean): void {
    const settled = sub.ack === "client"
      ? sub.pending.splice(0, index + 1)
      : sub.pending.splice(index, 1);
    if (!ack) this.#broker.requeue(settled.map((d) => d.message));
  }

  #inTransaction(id: string | undefined, action: () => void): void {
    if (id === undefined) return action();
    const actions = this.#transactions.get(id);
    if (actions === undefined) {
      throw new StompSyntaxError(`no transaction ${id}`);
    }
    actions.push(action);
  }

  #receipt(frame: StompFrame): void {
    const receipt = header(frame, "receipt");
    if (receipt === undefined) return;
    this.#send({
      command: "RECEIPT",
      headers: [["receipt-id", receipt]],
      body: new Uint8Array(0),
    });
  }

  /** Sends an ERROR frame and closes the connection. */
  #error(
    message: string,
    frame?: StompFrame,
    details = message,
    extra: [string, string][] = [],
  ): void {
    this.#broker.stats.errors++;
    const headers: [string, string][] = [["message", message], ...extra];
    const receipt = frame && header(frame, "receipt");
    if (receipt !== undefined) headers.push(["receipt-id", receipt]);
    headers.push(["content-type", "text/plain"]);
    this.#send({ command: "ERROR", headers, body: text.encode(details) });
    this.#done = true;
    this.#socket.close(1000, "STOMP ERROR");
  }

  #send(frame: StompFrame): void {
    const bytes = serializeFrame(frame, this.#version || "1.2");
    // Text frames when the whole frame is UTF-8 (what most clients expect),
    // binary otherwise.
    let data: string | Uint8Array = bytes;
    try {
      data = utf8.decode(bytes);
    } catch {
      // binary body: send as a binary message
    }
    this.#write(data);
  }

  #write(data: string | Uint8Array): void {
    if (this.#socket.readyState !== this.#socket.OPEN) return;
    this.#lastSent = Date.now();
    this.#socket.send(data);
  }

  /** Stops timers and hands unacknowledged queue messages back. */
  dispose(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    const subs = [...this.subscriptions.values()];
    this.subscriptions.clear();
    this.#transactions.clear();
    for (const sub of subs) {
      this.#broker.requeue(sub.pending.map((d) => d.message));
    }
  }
}

function required(frame: StompFrame, name: string): string {
  const value = header(frame, name);
  if (value === undefined || value === "") {
    throw new StompSyntaxError(`${frame.command} needs a ${name} header`);
  }
  return value;
}

function parseHeartBeat(value: string | undefined): [number, number] {
  if (value === undefined) return [0, 0];
  const match = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(value);
  if (match === null) {
    throw new StompSyntaxError(`invalid heart-beat ${JSON.stringify(value)}`);
  }
  return [Number(match[1]), Number(match[2])];
}
