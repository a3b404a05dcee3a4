/**
 * A short run of scripts/fuzz.ts in process, on every runtime: random and
 * mutated input to the connection core (both roles, with and without the
 * handshake) and to the HTTP head parser. `npm run fuzz` runs it longer.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fuzz, Rng, runIteration, TARGETS } from "../scripts/fuzz.ts";

const SEED = 0x5eed_2026;

test("fuzz: 2,000 iterations find nothing (seed 0x5eed2026)", () => {
  const report = fuzz({ iterations: 2000, seed: SEED });
  assert.deepEqual(
    report.failures.slice(0, 5).map((f) =>
      `iteration ${f.iteration} [${f.target}] ${f.message}`
    ),
    [],
    `replay with: npm run fuzz -- --seed ${SEED} --iteration N`,
  );
  assert.equal(report.iterations, 2000);
  for (const target of Object.keys(TARGETS)) {
    assert.ok((report.targets[target] ?? 0) > 100, `${target} ran`);
  }
  // Heap growth stays far below what unbounded buffering would cost.
  assert.ok(
    report.heapGrowth < 256 * 1024 * 1024,
    `heap grew ${report.heapGrowth}`,
  );
});

test("fuzz: a random seed, 300 iterations (printed on failure)", () => {
  const seed = (Math.random() * 0x1_0000_0000) >>> 0;
  const report = fuzz({ iterations: 300, seed });
  assert.deepEqual(
    report.failures.slice(0, 5).map((f) =>
      `seed ${seed} iteration ${f.iteration} [${f.target}] ${f.message}`
    ),
    [],
  );
});

test("fuzz: iterations replay identically from (seed, iteration)", () => {
  for (let i = 0; i < 50; i++) {
    assert.deepEqual(runIteration(7, i), runIteration(7, i));
  }
  const a = new Rng(42);
  const b = new Rng(42);
  for (let i = 0; i < 100; i++) assert.equal(a.next(), b.next());
});
