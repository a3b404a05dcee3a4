/**
 * An MQTT-over-WebSocket broker (aedes on wskit) that runs unchanged on
 * Node.js, Deno and Bun:
 *
 *   node --import tsx examples/mqtt/server.ts
 *   deno run -A examples/mqtt/server.ts
 *   bun run examples/mqtt/server.ts
 *
 * Listens on 127.0.0.1:$PORT (default 8080) at `/mqtt` (subprotocol
 * `mqtt`). With $MQTT_USER and $MQTT_PASSWORD set, clients must log in with
 * them. Try it with the `mqtt` package, through wskit's `WebSocket`:
 *
 * ```ts
 * import mqtt from "mqtt";
 * import { WebSocket } from "wskit";
 *
 * const client = mqtt.connect("ws://127.0.0.1:8080/mqtt", {
 *   forceNativeWebSocket: true, // use the WebSocket-class transport…
 *   createWebsocket: (url, protocols) => new WebSocket(url, protocols), // …with wskit's class
 * });
 * client.subscribe("sensors/#");
 * client.on("message", (topic, payload) => console.log(topic, payload.toString()));
 * client.publish("sensors/t1", "21.5", { qos: 1, retain: true });
 * ```
 *
 * @module
 */

import { env } from "../env.ts";
import { startMqttBroker } from "./broker.ts";

const user = env("MQTT_USER");
const password = env("MQTT_PASSWORD");
const broker = await startMqttBroker({
  port: Number(env("PORT") ?? 8080),
  users: user !== undefined ? { [user]: password ?? "" } : undefined,
});

console.log(`MQTT over WebSocket listening on ${broker.url}`);
