/**
 * The deno adapter (being written).
 *
 * @module
 */
import type { Runtime } from "./transport.ts";

/** The deno runtime adapter. */
export const denoRuntime: Runtime = {
  name: "deno",
  connect() {
    throw new Error("not yet");
  },
  listen() {
    throw new Error("not yet");
  },
};
