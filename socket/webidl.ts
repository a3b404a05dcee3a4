/**
 * The few WebIDL conversions and property shapes the browser-API classes
 * need (`WebSocket`, its events): argument conversions done before any
 * other check, as browsers do, and the descriptors WebIDL gives
 * attributes, operations and constants.
 *
 * @example
 * ```ts
 * import { toUSVString } from "./webidl.ts";
 * toUSVString("a\uD800b"); // "a\uFFFDb"
 * ```
 *
 * @module
 */

const LONE_SURROGATE =
  /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `USVString`: ToString, then each lone surrogate becomes U+FFFD. */
export function toUSVString(value: unknown): string {
  const text = String(value);
  LONE_SURROGATE.lastIndex = 0;
  return LONE_SURROGATE.test(text)
    ? text.replace(LONE_SURROGATE, "\uFFFD")
    : text;
}

/** `unsigned short`/`unsigned long` (`bits` 16 or 32): ToNumber, truncated, modulo 2^bits. */
export function toUnsigned(value: unknown, bits: number): number {
  const n = Math.trunc(Number(value));
  if (!Number.isFinite(n)) return 0;
  const m = 2 ** bits;
  return ((n % m) + m) % m;
}

/** `[Clamp] unsigned short`: ToNumber, NaN is 0, clamped to 0–65535, rounded half to even. */
export function toClampedUint16(value: unknown): number {
  const n = Number(value);
  if (Number.isNaN(n)) return 0;
  const x = Math.min(Math.max(n, 0), 65535);
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Redefines `names` on `target` as WebIDL members: enumerable (accessors
 * and operations keep their get/set/value and stay configurable).
 */
export function makeEnumerable(target: object, names: readonly string[]): void {
  for (const name of names) {
    const descriptor = Object.getOwnPropertyDescriptor(target, name);
    if (descriptor === undefined) {
      throw new TypeError(`webidl: no member ${name}`);
    }
    Object.defineProperty(target, name, { ...descriptor, enumerable: true });
  }
}

/** Sets `Symbol.toStringTag` on `prototype` and the class `name`, as WebIDL does. */
export function nameInterface(
  cls: { prototype: object },
  name: string,
): void {
  Object.defineProperty(cls.prototype, Symbol.toStringTag, {
    value: name,
    writable: false,
    enumerable: false,
    configurable: true,
  });
  Object.defineProperty(cls, "name", { value: name });
}

/** Defines WebIDL constants (enumerable, read-only, not configurable) on each target. */
export function defineConstants(
  targets: readonly object[],
  constants: Readonly<Record<string, number>>,
): void {
  for (const target of targets) {
    for (const [name, value] of Object.entries(constants)) {
      Object.defineProperty(target, name, {
        value,
        writable: false,
        enumerable: true,
        configurable: false,
      });
    }
  }
}

/**
 * The constructor's URL steps (HTML): ToString, parse against the
 * document's base (`globalThis.location`, where the runtime has one, e.g.
 * Deno with `--location`), map `http(s):` to `ws(s):`. Throws a
 * `SyntaxError` DOMException when it does not parse.
 */
export function resolveUrl(url: unknown): URL {
  const text = toUSVString(url);
  let base: string | undefined;
  try {
    const href = (globalThis as { location?: { href?: unknown } }).location
      ?.href;
    if (typeof href === "string") base = href;
  } catch {
    // Deno without --location throws on `location`: no base.
  }
  let target: URL;
  try {
    target = new URL(text, base);
  } catch {
    throw new DOMException(`invalid URL: ${text}`, "SyntaxError");
  }
  if (target.protocol === "http:") target.protocol = "ws:";
  else if (target.protocol === "https:") target.protocol = "wss:";
  return target;
}

/**
 * WebIDL `(DOMString or sequence<DOMString>)`: an iterable object is a
 * list whose items are converted with ToString; anything else is one
 * string.
 */
export function toProtocols(value: unknown): string | string[] | undefined {
  if (value === undefined) return undefined;
  if (
    (typeof value === "object" && value !== null) ||
    typeof value === "function"
  ) {
    const iterable = value as Partial<Iterable<unknown>>;
    if (typeof iterable[Symbol.iterator] === "function") {
      return Array.from(iterable as Iterable<unknown>, (item) => String(item));
    }
  }
  return String(value);
}
