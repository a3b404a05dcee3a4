/**
 * The Bun entry point: wskit transports over Bun sockets and the
 * {@linkcode bunRuntime} that `serve()` and `new WebSocket()` use on Bun.
 *
 * @example
 * ```ts
 * import { bunRuntime } from "./bun.ts";
 * bunRuntime.name; // "bun"
 * ```
 *
 * @module
 */

export * from "./adapters/bun.ts";
