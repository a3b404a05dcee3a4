/**
 * IP address literals as bytes: IPv4 dotted-quad (RFC 3986's `IPv4address`:
 * four decimal octets, no leading zeros) and IPv6 text (RFC 4291 §2.2,
 * with `::` and a trailing dotted quad), plus prefix (CIDR) matching.
 * Pure functions for the proxy code (SOCKS5 address types, `NO_PROXY`).
 *
 * @module
 */

/** The 4 bytes of a dotted-quad IPv4 literal, or undefined if `text` is not one. */
export function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i];
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    bytes[i] = value;
  }
  return bytes;
}

/**
 * The 16 bytes of an IPv6 literal (without brackets or a zone), or
 * undefined if `text` is not one.
 */
export function parseIPv6(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === "") return [];
    const out: number[] = [];
    const pieces = half.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIPv4(piece);
        if (v4 === undefined) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === undefined || tail === undefined) return undefined;
  // A dotted quad may only end the address.
  if (halves.length === 2 && halves[0].includes(".")) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = all[i] >> 8;
    bytes[2 * i + 1] = all[i] & 0xff;
  }
  return bytes;
}

/** The bytes of an IPv4 or IPv6 literal (brackets allowed around IPv6). */
export function parseIP(text: string): Uint8Array | undefined {
  if (text.startsWith("[") && text.endsWith("]")) {
    return parseIPv6(text.slice(1, -1));
  }
  return parseIPv4(text) ?? parseIPv6(text);
}

/** Whether the first `bits` bits of `address` and `network` (same length) agree. */
export function inPrefix(
  address: Uint8Array,
  network: Uint8Array,
  bits: number,
): boolean {
  if (address.length !== network.length) return false;
  if (bits < 0 || bits > address.length * 8) return false;
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) {
    if (address[i] !== network[i]) return false;
  }
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (address[whole] & mask) === (network[whole] & mask);
}
