/**
 * The bun adapter (being written).
 *
 * @module
 */
import type { Runtime } from "./transport.ts";

/** The bun runtime adapter. */
export const bunRuntime: Runtime = {
  name: "bun",
  connect() {
    throw new Error("not yet");
  },
  listen() {
    throw new Error("not yet");
  },
};
