/**
 * A time budget per event-loop turn for work done in slices: slices run at
 * once while this turn has spent less than 2 ms on them (all callers
 * together); later ones wait, in order, for a timer, which lets I/O and
 * the other connections run first. `inflateLater` (./deflate.ts) feeds
 * Deno's `node:zlib`, which works on the main thread, through it.
 *
 * @example
 * ```ts
 * import { sliceSoon } from "./slices.ts";
 *
 * let left = 1000;
 * const step = (): void => {
 *   // ... a small piece of work ...
 *   if (--left > 0) sliceSoon(step);
 * };
 * sliceSoon(step);
 * ```
 *
 * @module
 */

/** Milliseconds of slices (of all callers) per turn before a timer lets the loop run. */
const SLICES_FOR_MS = 2;
/** When the current turn of slices began. */
let turnStart = 0;
/** Slices waiting for the next turn, in order. */
let waiting: (() => void)[] = [];
let turnTimer: ReturnType<typeof setTimeout> | undefined;

/** Runs `step` now if this turn's slice time is not used up, else next turn. */
export function sliceSoon(step: () => void): void {
  if (
    turnTimer === undefined && performance.now() - turnStart < SLICES_FOR_MS
  ) {
    step();
    return;
  }
  waiting.push(step);
  // A timer, not setImmediate: on Deno only a timer lets I/O in.
  turnTimer ??= setTimeout(() => {
    turnTimer = undefined;
    turnStart = performance.now();
    const steps = waiting;
    waiting = [];
    for (const run of steps) sliceSoon(run);
  }, 0);
}
