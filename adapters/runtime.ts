/**
 * Picks the adapter for the runtime this code runs on.
 *
 * @module
 */

import { bunRuntime } from "./bun.ts";
import { denoRuntime } from "./deno.ts";
import { nodeRuntime } from "./node.ts";
import type { Runtime } from "./transport.ts";

/** The adapter for the current runtime: Deno, Bun, else Node.js. */
export function currentRuntime(): Runtime {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Deno !== undefined) return denoRuntime;
  if (g.Bun !== undefined) return bunRuntime;
  return nodeRuntime;
}
