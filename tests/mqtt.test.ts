/**
 * The MQTT example (examples/mqtt/): the aedes broker on wskit, driven by
 * the real `mqtt` client package, whose WebSocket transport is given
 * wskit's `WebSocket` class (`forceNativeWebSocket` + `createWebsocket`), so
 * both ends are wskit: the `mqtt` subprotocol, binary frames, subscribe and
 * publish, QoS 1 delivery (also to an offline persistent session), retained
 * messages, login failure, the handshake refusal of clients without the
 * subprotocol, and a clean close. One test starts the example as a process.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { WebSocket, type WebSocketErrorEvent } from "../mod.ts";
import { startMqttBroker } from "../examples/mqtt/broker.ts";
import { closed, connect, once, until } from "./net_helpers.ts";
import { startExample } from "./process_helpers.ts";

interface Connected {
  client: MqttClient;
  /** The wskit WebSocket under the client. */
  socket: WebSocket;
  /** Every message the socket received was binary. */
  binaryOnly(): boolean;
}

/** Connects the mqtt package through wskit's WebSocket; resolves on CONNACK. */
function mqttConnect(
  url: string,
  options: IClientOptions = {},
): Promise<Connected> {
  let socket: WebSocket | undefined;
  let binary = true;
  const client = mqtt.connect(url, {
    // Use mqtt.js's WebSocket-class transport, with wskit's class.
    forceNativeWebSocket: true,
    createWebsocket: (target: string, protocols: string[]) => {
      socket = new WebSocket(target, protocols);
      socket.addEventListener("message", (event) => {
        if (typeof (event as MessageEvent).data === "string") binary = false;
      });
      return socket;
    },
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...options,
  });
  return new Promise((resolve, reject) => {
    client.once(
      "connect",
      () => resolve({ client, socket: socket!, binaryOnly: () => binary }),
    );
    client.once("error", (error) => {
      client.end(true);
      reject(error);
    });
  });
}

/** Resolves with the next message the client receives. */
function nextMessage(
  client: MqttClient,
): Promise<{ topic: string; payload: string; qos: number; retain: boolean }> {
  return new Promise((resolve) =>
    client.once("message", (topic, payload, packet) =>
      resolve({
        topic,
        payload: payload.toString(),
        qos: packet.qos,
        retain: packet.retain,
      }))
  );
}

test("mqtt: mqtt.js over wskit — subprotocol, subscribe, publish, QoS 1, retained, clean close", async () => {
  const broker = await startMqttBroker();
  try {
    const sub = await mqttConnect(broker.url, { clientId: "subscriber" });
    const pub = await mqttConnect(broker.url, { clientId: "publisher" });
    assert.equal(sub.socket.protocol, "mqtt");
    assert.equal(pub.socket.protocol, "mqtt");

    const granted = await sub.client.subscribeAsync("sensors/#", { qos: 1 });
    assert.deepEqual(granted.map((g) => [g.topic, g.qos]), [["sensors/#", 1]]);

    // QoS 0 and QoS 1: publishAsync resolves on PUBACK for QoS 1.
    const first = nextMessage(sub.client);
    await pub.client.publishAsync("sensors/t1", "21.5", { qos: 0 });
    assert.deepEqual(await first, {
      topic: "sensors/t1",
      payload: "21.5",
      qos: 0,
      retain: false,
    });
    const second = nextMessage(sub.client);
    const acks: string[] = [];
    pub.client.on("packetreceive", (packet) => acks.push(packet.cmd));
    await pub.client.publishAsync("sensors/t2", "22.0", { qos: 1 });
    assert.deepEqual(acks, ["puback"]); // resolved on the broker's PUBACK
    assert.deepEqual(await second, {
      topic: "sensors/t2",
      payload: "22.0",
      qos: 1,
      retain: false,
    });

    // A retained message reaches a client that subscribes later.
    await pub.client.publishAsync("status/boiler", "on", {
      qos: 1,
      retain: true,
    });
    const late = await mqttConnect(broker.url, { clientId: "late" });
    const retained = nextMessage(late.client);
    await late.client.subscribeAsync("status/+", { qos: 1 });
    assert.deepEqual(await retained, {
      topic: "status/boiler",
      payload: "on",
      qos: 1,
      retain: true,
    });

    // Every WebSocket message the broker sent was binary.
    assert.ok(sub.binaryOnly() && pub.binaryOnly() && late.binaryOnly());

    // DISCONNECT, then a clean WebSocket close.
    const gone = closed(sub.socket);
    await sub.client.endAsync();
    const event = await gone;
    assert.equal(event.wasClean, true);
    await Promise.all([pub.client.endAsync(), late.client.endAsync()]);
    await until(() => broker.server.clients.size === 0, "every close");
  } finally {
    await broker.close();
  }
});

test("mqtt: QoS 1 messages wait for an offline persistent session", async () => {
  const broker = await startMqttBroker();
  try {
    const options = { clientId: "durable", clean: false };
    const first = await mqttConnect(broker.url, options);
    await first.client.subscribeAsync("jobs/#", { qos: 1 });
    await first.client.endAsync();

    const pub = await mqttConnect(broker.url, { clientId: "producer" });
    await pub.client.publishAsync("jobs/1", "while you were away", { qos: 1 });
    await pub.client.endAsync();

    // Reconnecting to the same session delivers what was stored for it.
    let socket: WebSocket | undefined;
    const client = mqtt.connect(broker.url, {
      ...options,
      forceNativeWebSocket: true,
      createWebsocket: (
        url: string,
        protocols: string[],
      ) => (socket = new WebSocket(url, protocols)),
      reconnectPeriod: 0,
    });
    const message = await nextMessage(client);
    assert.deepEqual(message, {
      topic: "jobs/1",
      payload: "while you were away",
      qos: 1,
      retain: false,
    });
    assert.equal(socket!.protocol, "mqtt");
    await client.endAsync();
  } finally {
    await broker.close();
  }
});

test("mqtt: a bad login gets CONNACK 'bad username or password'; a good one connects", async () => {
  const broker = await startMqttBroker({ users: { ada: "lovelace" } });
  try {
    await assert.rejects(
      mqttConnect(broker.url, { username: "ada", password: "wrong" }),
      (error: Error & { code?: number }) => {
        assert.equal(error.code, 4);
        return true;
      },
    );
    await assert.rejects(mqttConnect(broker.url), { code: 4 });
    const ok = await mqttConnect(broker.url, {
      username: "ada",
      password: "lovelace",
    });
    assert.equal(ok.client.connected, true);
    await ok.client.endAsync();
  } finally {
    await broker.close();
  }
});

test("mqtt: the WebSocket rules — mqtt subprotocol required (400), text frames closed (1003)", async () => {
  const broker = await startMqttBroker();
  try {
    for (const offer of [undefined, ["MQTT"], ["mqttv5"]]) {
      const ws = new WebSocket(broker.url, offer);
      const error = once<WebSocketErrorEvent>(ws, "error");
      const event = await closed(ws);
      assert.equal(event.code, 1006);
      assert.match((await error).message, /400/);
    }
    const ws = await connect(broker.url, ["mqttv3.1"]);
    assert.equal(ws.protocol, "mqttv3.1");
    const done = closed(ws);
    ws.send("CONNECT as text");
    assert.equal((await done).code, 1003);
  } finally {
    await broker.close();
  }
});

test("mqtt: the example runs as a process", async () => {
  const example = await startExample("examples/mqtt/server.ts", {
    MQTT_USER: "demo",
    MQTT_PASSWORD: "secret",
  });
  try {
    assert.match(example.url, /^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/);
    await assert.rejects(mqttConnect(example.url), { code: 4 });
    const login = { username: "demo", password: "secret" };
    const a = await mqttConnect(example.url, login);
    assert.equal(a.socket.protocol, "mqtt");
    await a.client.publishAsync("hello/retained", "kept", {
      qos: 1,
      retain: true,
    });
    const b = await mqttConnect(example.url, login);
    const message = nextMessage(b.client);
    await b.client.subscribeAsync("hello/#", { qos: 1 });
    assert.deepEqual(await message, {
      topic: "hello/retained",
      payload: "kept",
      qos: 1,
      retain: true,
    });
    await Promise.all([a.client.endAsync(), b.client.endAsync()]);
  } finally {
    await example.stop();
  }
});
