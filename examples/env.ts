/**
 * Reads an environment variable on Node.js, Deno or Bun.
 *
 * @module
 */

/** The value of environment variable `name`, or undefined. */
export function env(name: string): string | undefined {
  const g = globalThis as {
    Deno?: { env: { get(name: string): string | undefined } };
    process?: { env: Record<string, string | undefined> };
  };
  if (g.Deno !== undefined) return g.Deno.env.get(name);
  return g.process?.env[name];
}
