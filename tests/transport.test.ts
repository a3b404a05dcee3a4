/**
 * The current runtime's adapter as a plain byte transport, over real
 * loopback sockets: each runtime tests its own adapter with this same file.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { currentRuntime } from "../adapters/runtime.ts";
import type { Transport } from "../adapters/transport.ts";

const runtime = currentRuntime();

/** Collects what a transport receives and resolves when it closes. */
function watch(transport: Transport) {
  const chunks: Uint8Array[] = [];
  let drains = 0;
  let resolveClosed!: (error: Error | undefined) => void;
  const closed = new Promise<Error | undefined>((r) => (resolveClosed = r));
  let closes = 0;
  transport.handlers = {
    data: (chunk) => chunks.push(chunk),
    drain: () => drains++,
    close: (error) => {
      closes++;
      resolveClosed(error);
    },
  };
  return {
    closed,
    received: () => Buffer.concat(chunks),
    get drains() {
      return drains;
    },
    get closes() {
      return closes;
    },
  };
}

async function until(
  check: () => boolean,
  what: string,
  ms = 10000,
): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

test(`transport: ${runtime.name} runtime is the one detected`, () => {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  const expected = g.Deno ? "deno" : g.Bun ? "bun" : "node";
  assert.equal(runtime.name, expected);
});

test("transport: bytes flow both ways and end() closes both sides once", async () => {
  let serverSide: ReturnType<typeof watch> | undefined;
  let serverTransport: Transport | undefined;
  const listener = await runtime.listen(
    { hostname: "127.0.0.1", port: 0 },
    (t) => {
      serverTransport = t;
      serverSide = watch(t);
    },
  );
  try {
    assert.ok(listener.port > 0);
    const client = runtime.connect({
      hostname: "127.0.0.1",
      port: listener.port,
    });
    const clientSide = watch(client);
    client.write(new TextEncoder().encode("hello "));
    client.write(new TextEncoder().encode("server"));
    await until(
      () => serverSide?.received().toString() === "hello server",
      "server data",
    );
    serverTransport!.write(new Uint8Array(200_000).fill(7));
    await until(() => clientSide.received().length === 200_000, "client data");
    assert.equal(clientSide.received()[199_999], 7);
    serverTransport!.end();
    assert.equal(await clientSide.closed, undefined);
    await serverSide!.closed;
    assert.equal(clientSide.closes, 1);
    assert.equal(serverSide!.closes, 1);
  } finally {
    await listener.close();
  }
});

test("transport: a large write is fully delivered and buffered falls to 0", async () => {
  let serverTransport: Transport | undefined;
  let serverSide: ReturnType<typeof watch> | undefined;
  const listener = await runtime.listen({ port: 0 }, (t) => {
    serverTransport = t;
    serverSide = watch(t);
  });
  try {
    const client = runtime.connect({
      hostname: "127.0.0.1",
      port: listener.port,
    });
    const clientSide = watch(client);
    await until(() => serverTransport !== undefined, "accept");
    // Pause the reader so the writer's buffer must grow.
    client.pause();
    const big = new Uint8Array(8 * 1024 * 1024).fill(1);
    const ok = serverTransport!.write(big);
    assert.equal(
      ok,
      false,
      "write reports backpressure past the high-water mark",
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(
      serverTransport!.buffered > 0,
      "bytes wait while the reader is paused",
    );
    client.resume();
    await until(() => clientSide.received().length === big.length, "all bytes");
    await until(() => serverTransport!.buffered === 0, "buffered to drain");
    await until(() => serverSide!.drains > 0, "a drain callback");
    client.destroy();
    await clientSide.closed;
    await serverSide!.closed;
  } finally {
    await listener.close();
  }
});

test("transport: destroy() by the peer is seen as close", async () => {
  let serverSide: ReturnType<typeof watch> | undefined;
  const listener = await runtime.listen({ port: 0 }, (t) => {
    serverSide = watch(t);
  });
  try {
    const client = runtime.connect({
      hostname: "127.0.0.1",
      port: listener.port,
    });
    const clientSide = watch(client);
    client.write(new Uint8Array([1]));
    await until(
      () => serverSide !== undefined && serverSide.received().length === 1,
      "data",
    );
    client.destroy();
    await serverSide!.closed;
    await clientSide.closed;
    assert.equal(clientSide.closes, 1);
  } finally {
    await listener.close();
  }
});

test("transport: connection refused is reported as close with an error", async () => {
  const listener = await runtime.listen({ port: 0 }, () => {});
  const port = listener.port;
  await listener.close();
  const client = runtime.connect({ hostname: "127.0.0.1", port });
  const side = watch(client);
  const error = await side.closed;
  assert.ok(error instanceof Error, "an error is passed to close");
});
