/** The per-socket guard's timers (stubbed `setInterval`, no network). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { SocketGuard } from "../socket/guard.ts";

/** Runs `body` with setInterval/clearInterval counted (timers never fire). */
function withCountedTimers(
  body: (live: () => number, started: () => number) => void,
): void {
  const realSet = globalThis.setInterval;
  const realClear = globalThis.clearInterval;
  const timers = new Set<number>();
  let next = 1;
  let started = 0;
  globalThis.setInterval = ((() => {
    started++;
    timers.add(next);
    return next++;
  }) as unknown) as typeof setInterval;
  globalThis.clearInterval = ((id: number) => {
    timers.delete(id);
  }) as typeof clearInterval;
  try {
    body(() => timers.size, () => started);
  } finally {
    globalThis.setInterval = realSet;
    globalThis.clearInterval = realClear;
  }
}

const actions = { ping() {}, fail() {} };

test("guard: an idle connection under the server's default limits has no timer", () => {
  withCountedTimers((live, started) => {
    const guard = new SocketGuard(
      { maxQueuedBytes: 1 << 20, backpressureTimeout: 30_000 },
      actions,
    );
    guard.received();
    assert.equal(guard.message(10), undefined);
    assert.equal(started(), 0);
    // Only while reading is paused for backpressure does a check run.
    guard.paused(true);
    assert.equal(live(), 1);
    guard.paused(true);
    assert.equal(started(), 1);
    guard.paused(false);
    assert.equal(live(), 0);
    guard.stop();
    assert.equal(live(), 0);
  });
});

test("guard: an idle timeout keeps one timer for the connection's life", () => {
  withCountedTimers((live, started) => {
    const guard = new SocketGuard(
      { idleTimeout: 1000, backpressureTimeout: 30_000 },
      actions,
    );
    assert.equal(live(), 1);
    guard.paused(true);
    guard.paused(false);
    assert.equal(live(), 1);
    assert.equal(started(), 1);
    guard.stop();
    assert.equal(live(), 0);
  });
});
