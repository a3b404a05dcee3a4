/**
 * The Deno entry point: wskit transports over Deno sockets and the
 * {@linkcode denoRuntime} that `serve()` and `new WebSocket()` use on Deno.
 *
 * @example
 * ```ts
 * import { denoRuntime } from "./deno.ts";
 * denoRuntime.name; // "deno"
 * ```
 *
 * @module
 */

export * from "./adapters/deno.ts";
