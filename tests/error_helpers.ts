/** Test helpers for `error` events (tests/errors*.test.ts). */
import assert from "node:assert/strict";
import type { ConnectionEvent } from "../core/connection.ts";
import { ERROR_IDS, type ErrorId } from "../core/errors.ts";

/** A connection's `error` event. */
export type ErrorEvent = Extract<ConnectionEvent, { type: "error" }>;

/** The one `error` event among `events`. */
export function errorOf(events: readonly ConnectionEvent[]): ErrorEvent {
  const errors = events.filter((e) => e.type === "error");
  assert.equal(errors.length, 1, "one error event");
  return errors[0] as ErrorEvent;
}

/** Asserts `event`'s id (one of `id`), close code and HTTP status. */
export function expectError(
  event: ErrorEvent,
  id: ErrorId | readonly ErrorId[],
  code: number,
  status?: number,
): void {
  const ids: readonly ErrorId[] = typeof id === "string" ? [id] : id;
  assert.ok(ids.includes(event.id), `id ${event.id}, expected ${ids}`);
  assert.equal(event.code, code, `code for ${event.id}`);
  assert.equal(event.status, status, `status for ${event.id}`);
  assert.ok(event.id in ERROR_IDS, "a listed id");
}
