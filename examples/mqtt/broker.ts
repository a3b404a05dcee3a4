/**
 * An MQTT broker over WebSocket on wskit: the `aedes` broker, fed one Node
 * `Duplex` per connection built over wskit's streams API
 * (./duplex.ts). wskit does the WebSocket part — the `mqtt` subprotocol
 * (MQTT 3.1.1 and 5.0; `mqttv3.1` for MQTT 3.1 clients), binary frames —
 * and aedes does all of MQTT: sessions, subscriptions, QoS 0/1/2, retained
 * messages, wills, keep-alive.
 *
 * A client that offers neither subprotocol is refused at the handshake
 * (HTTP 400), as MQTT over WebSocket requires. With `users`, CONNECT must
 * carry a matching username and password (else CONNACK "bad username or
 * password", return code 4).
 *
 * @module
 */

import { Aedes, type AedesOptions } from "aedes";
import { serve, type WebSocketServer } from "../../mod.ts";
import { webSocketDuplex } from "./duplex.ts";

/** Options for {@linkcode startMqttBroker}. */
export interface MqttBrokerOptions {
  /** Address to bind (default "127.0.0.1"). */
  hostname?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** Path of the endpoint (default "/mqtt"); others get 404. */
  path?: string;
  /** If given, the accepted username → password pairs. */
  users?: Readonly<Record<string, string>>;
  /** More aedes options. */
  aedes?: AedesOptions;
}

/** A running broker. */
export interface MqttBroker {
  /** The aedes instance (events: `client`, `publish`, `subscribe`, …). */
  aedes: Aedes;
  /** The wskit server underneath. */
  server: WebSocketServer;
  /** The `ws://` URL of the endpoint. */
  url: string;
  /** Stops accepting, closes every connection and the broker. */
  close(): Promise<void>;
}

/** The WebSocket subprotocols MQTT clients offer. */
export const MQTT_SUBPROTOCOLS: readonly string[] = ["mqtt", "mqttv3.1"];

/** Starts the broker; see the module doc. */
export async function startMqttBroker(
  options: MqttBrokerOptions = {},
): Promise<MqttBroker> {
  const users = options.users;
  const aedesOptions: AedesOptions = { ...options.aedes };
  if (users !== undefined) {
    aedesOptions.authenticate = (_client, username, password, done) => {
      const ok = username !== undefined && Object.hasOwn(users, username) &&
        password?.toString() === users[username];
      if (ok) return done(null, true);
      // CONNACK return code 4: bad user name or password.
      const error = Object.assign(new Error("bad username or password"), {
        returnCode: 4,
      });
      done(error as never, false);
    };
  }
  const aedes = await Aedes.createBroker(aedesOptions);
  const path = options.path ?? "/mqtt";
  const server = await serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    path,
    protocols: MQTT_SUBPROTOCOLS,
    requireProtocol: true,
    onConnection(socket) {
      aedes.handle(webSocketDuplex(socket));
    },
  });
  return {
    aedes,
    server,
    url: `ws://${server.hostname}:${server.port}${path}`,
    async close() {
      await server.close();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}
