import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { applyMask, applyMaskJs, maskInto, maskIntoJs } from "../core/mask.ts";
import type { WasmNamespace } from "../core/mask_wasm.ts";
import {
  instantiateMaskKernel,
  MASK_KERNEL_CAPACITY,
  MASK_WASM_BYTES,
} from "../core/mask_wasm.ts";

/** Deterministic filler, so big inputs cost fast-check one integer. */
function fill(bytes: Uint8Array, seed: number): void {
  let x = seed | 1;
  for (let i = 0; i < bytes.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x;
  }
}

function naive(
  data: Uint8Array,
  mask: Uint8Array,
  offset: number,
  start: number,
  end: number,
): void {
  for (let i = start; i < end; i++) data[i] ^= mask[(offset + i - start) % 4];
}

/** Lengths: mostly small (byte and word tiers), some around and past every threshold. */
const length = fc.oneof(
  { weight: 6, arbitrary: fc.nat(200) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      127,
      128,
      129,
      255,
      256,
      257,
      1000,
      4096,
      MASK_KERNEL_CAPACITY - 1,
      MASK_KERNEL_CAPACITY,
      MASK_KERNEL_CAPACITY + 1,
      70000,
      2 * MASK_KERNEL_CAPACITY + 3,
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 140000 }) },
);

/** A `Uint8Array` of `len` bytes at a random, often unaligned, offset in a larger buffer. */
const placedBytes = (len: fc.Arbitrary<number>) =>
  fc.record({
    len,
    lead: fc.nat(7),
    trail: fc.nat(7),
    seed: fc.integer(),
  }).map(({ len, lead, trail, seed }) => {
    const buffer = new ArrayBuffer(lead + len + trail);
    fill(new Uint8Array(buffer), seed);
    return new Uint8Array(buffer, lead, len);
  });

const mask = fc.uint8Array({ minLength: 4, maxLength: 4 });

const rangeCase = placedBytes(length).chain((data) =>
  fc.record({
    data: fc.constant(data),
    mask,
    offset: fc.oneof(fc.nat(16), fc.nat(), fc.constant(2 ** 40 + 3)),
    bounds: fc.tuple(fc.nat(data.length), fc.nat(data.length)),
  })
);

for (
  const [name, fn] of [["applyMask", applyMask], [
    "applyMaskJs",
    applyMaskJs,
  ]] as const
) {
  test(`mask: ${name} equals a naive byte loop on random ranges`, () => {
    fc.assert(
      fc.property(rangeCase, ({ data, mask, offset, bounds }) => {
        const start = Math.min(...bounds);
        const end = Math.max(...bounds);
        const whole = new Uint8Array(data.buffer);
        const expected = whole.slice();
        naive(
          expected.subarray(data.byteOffset, data.byteOffset + data.length),
          mask,
          offset,
          start,
          end,
        );
        fn(data, mask, offset, start, end);
        // Compares the whole buffer: bytes outside the range must be untouched.
        assert.deepEqual(whole, expected);
      }),
      { numRuns: 300 },
    );
  });

  test(`mask: ${name} applied twice is the identity`, () => {
    fc.assert(
      fc.property(placedBytes(length), mask, fc.nat(), (data, mask, offset) => {
        const before = data.slice();
        fn(data, mask, offset);
        fn(data, mask, offset);
        assert.deepEqual(data, before);
      }),
      { numRuns: 100 },
    );
  });

  test(`mask: ${name} unmasks a payload piecewise with offsets`, () => {
    fc.assert(
      fc.property(
        placedBytes(length),
        mask,
        fc.array(fc.nat(), { maxLength: 6 }),
        (data, mask, cuts) => {
          const expected = data.slice();
          naive(expected, mask, 0, 0, expected.length);
          const points = [
            0,
            ...cuts.map((c) => c % (data.length + 1)),
            data.length,
          ]
            .sort((a, b) => a - b);
          for (let i = 1; i < points.length; i++) {
            // Each piece as its own view, as chunks arrive from a transport.
            const piece = data.subarray(points[i - 1], points[i]);
            fn(piece, mask, points[i - 1]);
          }
          assert.deepEqual(data, expected);
        },
      ),
      { numRuns: 150 },
    );
  });
}

for (
  const [name, fn] of [["maskInto", maskInto], [
    "maskIntoJs",
    maskIntoJs,
  ]] as const
) {
  test(`mask: ${name} equals a naive loop into unaligned targets`, () => {
    fc.assert(
      fc.property(
        placedBytes(length),
        mask,
        fc.nat(9),
        fc.nat(9),
        fc.nat(7),
        (source, mask, lead, targetOffset, trail) => {
          const before = source.slice();
          const buffer = new ArrayBuffer(
            lead + targetOffset + source.length + trail,
          );
          const whole = new Uint8Array(buffer);
          fill(whole, 7);
          const target = new Uint8Array(buffer, lead);
          const expected = whole.slice();
          for (let i = 0; i < source.length; i++) {
            expected[lead + targetOffset + i] = source[i] ^ mask[i % 4];
          }
          fn(source, target, targetOffset, mask);
          assert.deepEqual(whole, expected);
          assert.deepEqual(source, before, "source must not change");
        },
      ),
      { numRuns: 300 },
    );
  });

  test(`mask: ${name} handles a target overlapping the source`, () => {
    fc.assert(
      fc.property(
        length,
        fc.nat(20),
        fc.nat(20),
        mask,
        (len, sourceAt, targetAt, mask) => {
          const whole = new Uint8Array(Math.max(sourceAt, targetAt) + len + 4);
          fill(whole, len + 1);
          const source = whole.subarray(sourceAt, sourceAt + len);
          const expected = whole.slice();
          const copy = source.slice();
          for (let i = 0; i < len; i++) {
            expected[targetAt + i] = copy[i] ^ mask[i % 4];
          }
          fn(source, whole, targetAt, mask);
          assert.deepEqual(whole, expected);
        },
      ),
      { numRuns: 150 },
    );
  });
}

test("mask: RFC 6455 §5.7 example unmasks to Hello", () => {
  const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  const frame = new Uint8Array([
    0x81,
    0x85,
    ...key,
    0x7f,
    0x9f,
    0x4d,
    0x51,
    0x58,
  ]);
  applyMask(frame, key, 0, 6);
  assert.equal(new TextDecoder().decode(frame.subarray(6)), "Hello");
  const out = new Uint8Array(5);
  maskInto(new TextEncoder().encode("Hello"), out, 0, key);
  assert.deepEqual(out, new Uint8Array([0x7f, 0x9f, 0x4d, 0x51, 0x58]));
});

test("mask: defaults cover the whole array", () => {
  const key = new Uint8Array([1, 2, 3, 4]);
  for (const len of [5, 300, 70000]) {
    const data = new Uint8Array(len);
    applyMask(data, key);
    const expected = new Uint8Array(len).map((_, i) => key[i % 4]);
    assert.deepEqual(data, expected);
  }
});

test("mask: bad ranges and short keys throw RangeError", () => {
  const data = new Uint8Array(10);
  const key = new Uint8Array(4);
  const big = new Uint8Array(1000);
  assert.throws(() => applyMask(data, key, 0, 0, 11), RangeError);
  assert.throws(() => applyMask(data, key, 0, 5, 4), RangeError);
  assert.throws(() => applyMask(data, key, 0, -1, 4), RangeError);
  assert.throws(() => applyMask(data, new Uint8Array(3)), RangeError);
  assert.throws(() => applyMask(big, key, 0, 0, 1001), RangeError);
  assert.throws(() => applyMask(big, new Uint8Array(2)), RangeError);
  assert.throws(() => maskInto(data, new Uint8Array(12), 3, key), RangeError);
  assert.throws(() => maskInto(data, new Uint8Array(12), -1, key), RangeError);
  assert.throws(() => maskInto(big, new Uint8Array(999), 0, key), RangeError);
  assert.throws(() => maskInto(data, data, 0, new Uint8Array(0)), RangeError);
  assert.throws(() => maskIntoJs(data, new Uint8Array(9), 0, key), RangeError);
});

test("mask: the wasm kernel is valid and XORs with a little-endian word", () => {
  assert.equal(MASK_WASM_BYTES.length, 146);
  const kernel = instantiateMaskKernel();
  if (
    typeof WebAssembly === "undefined" || !WebAssembly.validate(MASK_WASM_BYTES)
  ) {
    assert.equal(kernel, null);
    return;
  }
  assert.ok(kernel !== null);
  assert.equal(kernel.memory.length, MASK_KERNEL_CAPACITY);
  kernel.memory.fill(0);
  kernel.memory.set([1, 2, 3, 4, 5], 0);
  kernel.xor(64, 0x04030201);
  assert.deepEqual([...kernel.memory.subarray(0, 6)], [0, 0, 0, 0, 4, 2]);
  assert.equal(kernel.memory[64], 0, "stops at len");
  kernel.xor(MASK_KERNEL_CAPACITY, -1);
  assert.equal(kernel.memory[MASK_KERNEL_CAPACITY - 1], 0xff);
});

test("mask: instantiateMaskKernel returns null where wasm is missing or fails", () => {
  const real = (globalThis as { WebAssembly?: WasmNamespace }).WebAssembly;
  assert.equal(instantiateMaskKernel(null), null);
  const base: WasmNamespace = {
    validate: () => true,
    Module: class {},
    Instance: class {
      exports = {};
    },
  };
  assert.equal(instantiateMaskKernel({ ...base, validate: () => false }), null);
  assert.equal(
    instantiateMaskKernel({
      ...base,
      Module: class {
        constructor() {
          throw new Error("CSP: wasm-unsafe-eval");
        }
      },
    }),
    null,
  );
  // Wrong exports.
  assert.equal(instantiateMaskKernel(base), null);
  assert.equal(
    instantiateMaskKernel({
      ...base,
      Instance: class {
        exports = { xor: () => {}, memory: { buffer: new ArrayBuffer(16) } };
      },
    }),
    null,
  );
  if (real !== undefined) assert.notEqual(instantiateMaskKernel(real), null);
});
