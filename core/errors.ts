/**
 * The error the frame and message layers raise for a protocol violation; it
 * carries the close code that the connection fails with.
 *
 * @module
 */

/** A violation of RFC 6455 by the peer (or a limit it exceeded). */
export class ProtocolError extends Error {
  /** The close code this violation fails the connection with. */
  readonly code: number;

  /** Creates an error that fails the connection with `code`. */
  constructor(code: number, message: string) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
  }
}
