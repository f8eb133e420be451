/**
 * Offsets: opaque to clients, but Rill gives them a fixed shape so that they
 * sort lexicographically in stream order and survive restarts unchanged:
 *
 *     <16-digit segment>_<16-digit byte position>
 *
 * The byte position counts stored bytes from the start of the stream (for JSON
 * streams: bytes of the stored, comma-framed messages). The segment is reserved
 * for a future retention/compaction scheme and is currently always zero.
 * Forks share their source's offset space, so a fork at position P continues
 * from P.
 */
export const OFFSET_WIDTH = 16;
/** The `-1` sentinel: read from the very beginning. */
export const OFFSET_BEGINNING = "-1";
/** The `now` sentinel: start at the current tail. */
export const OFFSET_NOW = "now";

const PAD = "0".repeat(OFFSET_WIDTH);
const OFFSET_PATTERN = /^(\d{16})_(\d{16})$/;

export function formatOffset(position: number): string {
  const digits = String(position);
  return `${PAD}_${PAD.slice(digits.length)}${digits}`;
}

/** The offset of an empty stream's start. */
export const ZERO_OFFSET = formatOffset(0);

/**
 * Parses an offset produced by {@link formatOffset}. Returns the byte position,
 * or `undefined` when the text is not a well-formed offset.
 */
export function parseOffset(text: string): number | undefined {
  const match = OFFSET_PATTERN.exec(text);
  if (!match) return undefined;
  if (match[1] !== PAD) return undefined;
  const position = Number(match[2]);
  return Number.isSafeInteger(position) ? position : undefined;
}
