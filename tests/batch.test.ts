/** Merging queued writes (adapters/batch.ts). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { takeBatch } from "../adapters/batch.ts";

const chunk = (size: number, fill: number) => new Uint8Array(size).fill(fill);

test("batch: a run of small chunks becomes one write, in order", () => {
  const queue = [chunk(3, 1), chunk(2, 2), chunk(1, 3)];
  assert.deepEqual([...takeBatch(queue)], [1, 1, 1, 2, 2, 3]);
  assert.equal(queue.length, 0);
});

test("batch: a large chunk goes alone and is not copied", () => {
  const big = chunk(16 * 1024, 7);
  const queue = [big, chunk(10, 1), chunk(10, 2)];
  assert.equal(takeBatch(queue), big);
  assert.equal(takeBatch(queue).length, 20);
  // A single small chunk is passed on as it is.
  const one = chunk(5, 9);
  assert.equal(takeBatch([one]), one);
});

test("batch: a merged write stops before 64 KiB and before a large chunk", () => {
  const queue = Array.from({ length: 10 }, (_, i) => chunk(15 * 1024, i));
  queue.splice(6, 0, chunk(20 * 1024, 99));
  assert.equal(takeBatch(queue).length, 4 * 15 * 1024); // 5 would pass 64 KiB
  assert.equal(takeBatch(queue).length, 2 * 15 * 1024); // the large one is next
  assert.equal(takeBatch(queue).length, 20 * 1024);
  assert.equal(queue.length, 4);
});
