/** Small DOM helpers and the renderers for JSON, text and binary messages. */

type Child = Node | string | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name === "class") element.className = String(value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}

/** "in 3h", "in 12m", "expired" — for expiry badges. */
export function relativeTime(iso: string, now = Date.now()): string {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  if (Number.isNaN(seconds)) return iso;
  if (seconds <= 0) return "expired";
  if (seconds < 90) return `in ${seconds}s`;
  if (seconds < 90 * 60) return `in ${Math.round(seconds / 60)}m`;
  if (seconds < 36 * 3600) return `in ${Math.round(seconds / 3600)}h`;
  return `in ${Math.round(seconds / 86_400)}d`;
}

const MAX_INLINE = 80;

/** A one-line preview of a JSON value, cut to fit a summary line. */
export function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_INLINE ? `${text.slice(0, MAX_INLINE - 1)}…` : text;
}

/**
 * A JSON value as an indented tree. Objects and arrays with children are
 * <details> elements, so every level can be folded; the top levels start
 * open, deeper ones too unless they are large. `suffix` (a comma) follows the
 * closing bracket whether the node is open or folded.
 */
export function renderJson(value: unknown, depth = 0, suffix = ""): Node {
  if (value === null || typeof value !== "object") {
    const scalar = renderScalar(value);
    if (!suffix) return scalar;
    return el("span", {}, scalar, el("span", { class: "j-punct" }, suffix));
  }
  const isArray = Array.isArray(value);
  const entries: Array<[string, unknown]> = isArray
    ? (value as unknown[]).map((item, index) => [String(index), item])
    : Object.entries(value as Record<string, unknown>);
  const [open, close] = isArray ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) return el("span", { class: "j-punct" }, `${open}${close}${suffix}`);
  const count = `${entries.length} ${isArray ? (entries.length === 1 ? "item" : "items") : entries.length === 1 ? "key" : "keys"}`;
  const details = el(
    "details",
    { class: "j-node", open: depth < 2 || entries.length <= 8 },
    el(
      "summary",
      {},
      el("span", { class: "j-punct" }, open),
      el("span", { class: "j-count" }, ` ${count} `),
      el("span", { class: "j-punct j-fold" }, `${close}${suffix}`),
    ),
  );
  const body = el("div", { class: "j-children" });
  entries.forEach(([key, item], index) => {
    const row = el("div", { class: "j-row" });
    if (!isArray) row.append(el("span", { class: "j-key" }, JSON.stringify(key)), el("span", { class: "j-punct" }, ": "));
    row.append(renderJson(item, depth + 1, index < entries.length - 1 ? "," : ""));
    body.append(row);
  });
  details.append(body, el("span", { class: "j-punct" }, `${close}${suffix}`));
  return details;
}

function renderScalar(value: unknown): Node {
  const kind = value === null ? "null" : typeof value;
  return el("span", { class: `j-${kind}` }, JSON.stringify(value) ?? String(value));
}

/** A classic hex dump: offset, 16 bytes in hex, and their printable ASCII. */
export function hexDump(bytes: Uint8Array, baseOffset = 0, maxBytes = 4096): string {
  const lines: string[] = [];
  const shown = Math.min(bytes.length, maxBytes);
  for (let row = 0; row < shown; row += 16) {
    const slice = bytes.subarray(row, Math.min(row + 16, shown));
    const hex = Array.from(slice, (byte) => byte.toString(16).padStart(2, "0"));
    const left = hex.slice(0, 8).join(" ");
    const right = hex.slice(8).join(" ");
    const ascii = Array.from(slice, (byte) => (byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : ".")).join("");
    lines.push(`${(baseOffset + row).toString(16).padStart(8, "0")}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${ascii}|`);
  }
  if (bytes.length > shown) lines.push(`… ${bytes.length - shown} more bytes`);
  return lines.join("\n");
}
