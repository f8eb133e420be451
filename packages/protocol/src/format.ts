/**
 * Human-readable sizes, shared by the rill command and the web console (which
 * loads this package in the browser), so both show a stream's size alike.
 */

/** `512 B`, `1.5 KiB`, `12 MiB`: binary units, one decimal below 10. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}
