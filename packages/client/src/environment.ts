/** The few places where the client looks at its host environment. */

/** An absolute URL; relative ones resolve against the page in browsers. */
export function absoluteUrl(url: string | URL): string {
  if (url instanceof URL) return url.toString();
  try {
    return new URL(url).toString();
  } catch {
    const page = (globalThis as { location?: { href?: string } }).location?.href;
    if (page) return new URL(url, page).toString();
    throw new TypeError(`Invalid stream URL: ${url}`);
  }
}

const warned = new Set<string>();

/**
 * Browsers allow about six HTTP/1.1 connections per origin, and every live
 * read holds one; over plain http (no HTTP/2) a page with several live
 * streams stalls. Warns once per origin, only in a browser, not for localhost.
 */
export function warnIfPlainHttpInBrowser(url: string, enabled: boolean | undefined): void {
  if (enabled === false || typeof (globalThis as { window?: unknown }).window === "undefined") return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return;
  }
  if (parsed.protocol !== "http:" || /^(localhost|127\.0\.0\.1|\[::1\])$/.test(parsed.hostname)) return;
  if (warned.has(parsed.origin)) return;
  warned.add(parsed.origin);
  console.warn(
    `[rill] ${parsed.origin} is plain http: browsers limit HTTP/1.1 to ~6 connections per origin, ` +
      `so several live streams can stall. Serve over https (HTTP/2), or pass warnOnHttp: false.`,
  );
}
