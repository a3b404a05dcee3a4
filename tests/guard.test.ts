/** The per-socket guard's checks: no timers of its own, only `wakeAt`. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type GuardActions,
  type GuardFault,
  SocketGuard,
} from "../socket/guard.ts";

/** Runs `body` with every timer function throwing: the guard must not use one. */
function withoutTimers(body: () => void): void {
  const g = globalThis as Record<string, unknown>;
  const names = ["setTimeout", "setInterval", "clearTimeout", "clearInterval"];
  const saved = names.map((name) => g[name]);
  for (const name of names) {
    g[name] = () => {
      throw new Error(`the guard called ${name}`);
    };
  }
  try {
    body();
  } finally {
    names.forEach((name, i) => g[name] = saved[i]);
  }
}

/** Records what a guard asks its socket to do. */
function recorder(): GuardActions & { pings: number; fails: string[] } {
  return {
    pings: 0,
    fails: [],
    ping() {
      this.pings++;
    },
    goAway(reason) {
      this.fails.push(`1001 ${reason}`);
    },
    fail(fault: GuardFault) {
      this.fails.push(`${fault.id} ${fault.reason}`);
    },
  };
}

test("guard: under the server's default limits it wants no wake-up until reading pauses", () => {
  withoutTimers(() => {
    const guard = new SocketGuard(
      { maxQueuedBytes: 1 << 20, backpressureTimeout: 30_000 },
      recorder(),
    );
    guard.received();
    assert.equal(guard.message(10), undefined);
    assert.equal(guard.wakeAt, undefined);
    const before = Date.now();
    guard.paused(true);
    const at = guard.wakeAt;
    assert.ok(
      at !== undefined && at >= before + 7500 && at <= Date.now() + 7500,
    );
    guard.paused(false);
    assert.equal(guard.wakeAt, undefined);
    guard.stop();
    assert.equal(guard.wakeAt, undefined);
  });
});

test("guard: an idle timeout wants a wake-up every quarter until stopped", () => {
  withoutTimers(() => {
    const guard = new SocketGuard(
      { idleTimeout: 1000, backpressureTimeout: 30_000 },
      recorder(),
    );
    const first = guard.wakeAt;
    assert.ok(first !== undefined && first - Date.now() <= 250);
    guard.paused(true);
    guard.paused(false);
    assert.notEqual(guard.wakeAt, undefined, "resuming keeps the idle checks");
    guard.wake(first);
    assert.equal(guard.wakeAt, first + 250);
    guard.stop();
    assert.equal(guard.wakeAt, undefined);
  });
});

test("guard: a silent peer is pinged after half the idle timeout, closed 1001 after all of it", () => {
  withoutTimers(() => {
    const actions = recorder();
    const guard = new SocketGuard({ idleTimeout: 1000 }, actions);
    const start = Date.now();
    guard.wake(start + 400);
    assert.equal(actions.pings, 0);
    guard.wake(start + 600);
    assert.equal(actions.pings, 1);
    assert.deepEqual(actions.fails, []);
    guard.wake(start + 1100);
    assert.deepEqual(actions.fails, ["1001 idle timeout"]);
  });
});

test("guard: reading paused past backpressureTimeout fails the connection with 1008", () => {
  withoutTimers(() => {
    const actions = recorder();
    const guard = new SocketGuard({ backpressureTimeout: 100 }, actions);
    guard.paused(true);
    const start = Date.now();
    guard.wake(start + 50);
    assert.deepEqual(actions.fails, []);
    guard.wake(start + 150);
    assert.deepEqual(actions.fails, [
      "WS_ERR_BACKPRESSURE_TIMEOUT peer does not read what is sent",
    ]);
  });
});

test("guard: each limit reports its own stable id", () => {
  const guard = new SocketGuard(
    { rateLimit: { messages: 1, pings: 1, bytes: 1000 }, maxQueuedBytes: 10 },
    recorder(),
  );
  assert.equal(guard.message(1), undefined);
  assert.equal(guard.message(1)?.id, "WS_ERR_RATE_LIMIT");
  assert.equal(guard.control(0, true), undefined);
  assert.equal(guard.control(0, true)?.id, "WS_ERR_PING_RATE_LIMIT");
  const bytes = new SocketGuard({ rateLimit: { bytes: 1000 } }, recorder());
  assert.equal(bytes.control(2000, false)?.reason, "byte rate limit exceeded");
  assert.equal(bytes.message(1)?.id, "WS_ERR_RATE_LIMIT");
  assert.equal(guard.queued(10), undefined);
  assert.equal(guard.queued(11)?.id, "WS_ERR_QUEUE_FULL");
});
