/**
 * A WebAssembly SIMD kernel for WebSocket masking, hand-assembled and shipped
 * inline so that it needs no file, no fetch and no build step.
 *
 * The module owns one 64 KiB page of memory and exports a single function,
 * `xor(len, mask)`, which XORs `memory[0..len)` in place with the 32-bit
 * little-endian word `mask` splatted across a 128-bit vector, four vectors
 * (64 bytes) per loop turn. `len` must be a multiple of 64 and at most 65536;
 * callers copy a chunk in, round its length up, call `xor` and copy the chunk
 * out. Rotating the mask to the chunk's phase is the caller's job.
 *
 * {@linkcode instantiateMaskKernel} compiles it synchronously (the module is
 * 146 bytes, far below the size at which browsers refuse synchronous
 * compilation on the main thread) and returns `null` where WebAssembly or its
 * SIMD proposal is missing, or where anything throws, so callers can fall back
 * to plain JavaScript.
 *
 * ```ts
 * import { instantiateMaskKernel } from "./mask_wasm.ts";
 * const kernel = instantiateMaskKernel();
 * if (kernel !== null) {
 *   kernel.memory.set([1, 2, 3, 4], 0);
 *   kernel.xor(64, 0x04030201); // memory[0..4) is now 0, 0, 0, 0
 * }
 * ```
 *
 * @module
 */

/**
 * The binary module. Sections are in the order the specification requires;
 * every size is an unsigned LEB128 that fits in one byte here.
 *
 * The text form it was assembled from:
 * ```wat
 * (module
 *   (memory (export "memory") 1)
 *   (func (export "xor") (param $len i32) (param $mask i32)
 *     (local $i i32) (local $m v128)
 *     (local.set $m (i32x4.splat (local.get $mask)))
 *     (block $done
 *       (loop $next
 *         (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
 *         (v128.store offset=0  (local.get $i) (v128.xor (v128.load offset=0  (local.get $i)) (local.get $m)))
 *         (v128.store offset=16 (local.get $i) (v128.xor (v128.load offset=16 (local.get $i)) (local.get $m)))
 *         (v128.store offset=32 (local.get $i) (v128.xor (v128.load offset=32 (local.get $i)) (local.get $m)))
 *         (v128.store offset=48 (local.get $i) (v128.xor (v128.load offset=48 (local.get $i)) (local.get $m)))
 *         (local.set $i (i32.add (local.get $i) (i32.const 64)))
 *         (br $next)))))
 * ```
 */
// deno-fmt-ignore
export const MASK_WASM_BYTES: Uint8Array<ArrayBuffer> = new Uint8Array([
  // ── header ──────────────────────────────────────────────────────────────
  0x00, 0x61, 0x73, 0x6d,       // magic "\0asm"
  0x01, 0x00, 0x00, 0x00,       // version 1

  // ── section 1: type ─────────────────────────────────────────────────────
  0x01, 0x06,                   // section id 1, 6 bytes follow
  0x01,                         //   1 type
  0x60,                         //   type 0: func
  0x02, 0x7f, 0x7f,             //     params: i32 $len, i32 $mask
  0x00,                         //     results: none

  // ── section 3: function ─────────────────────────────────────────────────
  0x03, 0x02,                   // section id 3, 2 bytes follow
  0x01,                         //   1 function
  0x00,                         //   function 0 has type 0

  // ── section 5: memory ───────────────────────────────────────────────────
  0x05, 0x03,                   // section id 5, 3 bytes follow
  0x01,                         //   1 memory
  0x00, 0x01,                   //   limits: flag 0 (no maximum), minimum 1 page (64 KiB)

  // ── section 7: export ───────────────────────────────────────────────────
  0x07, 0x10,                   // section id 7, 16 bytes follow
  0x02,                         //   2 exports
  0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, // name "memory"
  0x02, 0x00,                   //     kind memory, index 0
  0x03, 0x78, 0x6f, 0x72,       //   name "xor"
  0x00, 0x00,                   //     kind func, index 0

  // ── section 10: code ────────────────────────────────────────────────────
  0x0a, 0x65,                   // section id 10, 101 bytes follow
  0x01,                         //   1 function body
  0x63,                         //   body size: 99 bytes
  0x02,                         //   2 local declarations (params are locals 0, 1)
  0x01, 0x7f,                   //     1 × i32  → local 2, $i (starts at 0)
  0x01, 0x7b,                   //     1 × v128 → local 3, $m

  0x20, 0x01,                   //   local.get 1 ($mask)
  0xfd, 0x11,                   //   i32x4.splat
  0x21, 0x03,                   //   local.set 3 ($m)

  0x02, 0x40,                   //   block (no result)      ;; $done
  0x03, 0x40,                   //     loop (no result)     ;; $next
  0x20, 0x02,                   //       local.get $i
  0x20, 0x00,                   //       local.get $len
  0x4f,                         //       i32.ge_u
  0x0d, 0x01,                   //       br_if 1 (leave the block: done)

  0x20, 0x02,                   //       local.get $i         (store address)
  0x20, 0x02,                   //       local.get $i         (load address)
  0xfd, 0x00, 0x04, 0x00,       //       v128.load  align=2^4 offset=0
  0x20, 0x03,                   //       local.get $m
  0xfd, 0x51,                   //       v128.xor
  0xfd, 0x0b, 0x04, 0x00,       //       v128.store align=2^4 offset=0

  0x20, 0x02,                   //       local.get $i
  0x20, 0x02,                   //       local.get $i
  0xfd, 0x00, 0x04, 0x10,       //       v128.load  align=2^4 offset=16
  0x20, 0x03,                   //       local.get $m
  0xfd, 0x51,                   //       v128.xor
  0xfd, 0x0b, 0x04, 0x10,       //       v128.store align=2^4 offset=16

  0x20, 0x02,                   //       local.get $i
  0x20, 0x02,                   //       local.get $i
  0xfd, 0x00, 0x04, 0x20,       //       v128.load  align=2^4 offset=32
  0x20, 0x03,                   //       local.get $m
  0xfd, 0x51,                   //       v128.xor
  0xfd, 0x0b, 0x04, 0x20,       //       v128.store align=2^4 offset=32

  0x20, 0x02,                   //       local.get $i
  0x20, 0x02,                   //       local.get $i
  0xfd, 0x00, 0x04, 0x30,       //       v128.load  align=2^4 offset=48
  0x20, 0x03,                   //       local.get $m
  0xfd, 0x51,                   //       v128.xor
  0xfd, 0x0b, 0x04, 0x30,       //       v128.store align=2^4 offset=48

  0x20, 0x02,                   //       local.get $i
  0x41, 0xc0, 0x00,             //       i32.const 64 (signed LEB128)
  0x6a,                         //       i32.add
  0x21, 0x02,                   //       local.set $i
  0x0c, 0x00,                   //       br 0 (next loop turn)
  0x0b,                         //     end loop
  0x0b,                         //   end block
  0x0b,                         // end function body
]);

/** Bytes of wasm memory the kernel works on: one page. */
export const MASK_KERNEL_CAPACITY = 65536;

/** A ready-to-use instance of the masking kernel. */
export interface MaskKernel {
  /** A view of the kernel's whole memory ({@linkcode MASK_KERNEL_CAPACITY} bytes). */
  readonly memory: Uint8Array;
  /**
   * XORs `memory[0..len)` with the little-endian 32-bit word `mask`, repeated.
   * `len` must be a multiple of 64 and at most {@linkcode MASK_KERNEL_CAPACITY}.
   */
  readonly xor: (len: number, mask: number) => void;
}

/** The subset of the `WebAssembly` namespace that the kernel needs. */
export interface WasmNamespace {
  /** Checks that bytes form a valid module for this engine. */
  validate(bytes: BufferSource): boolean;
  /** Synchronous compilation. */
  Module: new (bytes: BufferSource) => object;
  /** Synchronous instantiation. */
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

/**
 * Compiles and instantiates the kernel synchronously.
 *
 * @param wasm the `WebAssembly` namespace to use; defaults to the global one
 *   (`null` means none).
 * @returns the kernel, or `null` if WebAssembly or SIMD is unavailable or anything fails.
 */
export function instantiateMaskKernel(
  wasm: WasmNamespace | null | undefined = (globalThis as {
    WebAssembly?: WasmNamespace;
  }).WebAssembly,
): MaskKernel | null {
  try {
    if (wasm == null || !wasm.validate(MASK_WASM_BYTES)) return null;
    const instance = new wasm.Instance(
      new wasm.Module(MASK_WASM_BYTES),
    );
    const { memory, xor } = instance.exports as {
      memory?: { buffer?: unknown };
      xor?: unknown;
    };
    if (
      typeof xor !== "function" || memory === undefined ||
      !(memory.buffer instanceof ArrayBuffer) ||
      memory.buffer.byteLength < MASK_KERNEL_CAPACITY
    ) {
      return null;
    }
    return {
      memory: new Uint8Array(memory.buffer, 0, MASK_KERNEL_CAPACITY),
      xor: xor as (len: number, mask: number) => void,
    };
  } catch {
    return null;
  }
}
