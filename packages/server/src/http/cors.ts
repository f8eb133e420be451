import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * Which browser origins may call the server. Bearer tokens are not ambient
 * credentials (no cookies), so the default `*` is safe; `corsOrigin` narrows
 * it to a list, for deployments that want browsers elsewhere kept out.
 */
export type CorsOrigins = "*" | readonly string[];

/** Parses `--cors-origin`: `*`, or a comma-separated list of origins such as https://app.example.com. */
export function parseCorsOrigins(value: string | undefined): CorsOrigins {
  if (value === undefined || value.trim() === "*") return "*";
  const origins = value.split(",").map((item) => item.trim()).filter((item) => item !== "");
  if (origins.length === 0) throw new Error("corsOrigin needs * or at least one origin");
  return origins.map((origin) => {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new Error(`not an origin: "${origin}" (expected e.g. https://app.example.com)`);
    }
    if (url.origin !== origin.replace(/\/$/, "") || !/^https?:$/.test(url.protocol)) {
      throw new Error(`not an origin: "${origin}" (scheme, host and port only, e.g. https://app.example.com)`);
    }
    return url.origin;
  });
}

/**
 * Whether this request's answer needs CORS headers. A browser sends Origin
 * with every cross-origin request and with every POST, PUT and DELETE, so an
 * answer to a write without one can only reach a non-browser client, and no
 * cache stores it: it goes without them (an append's head is then a fifth of
 * the size). Reads keep them whatever the request says: a shared cache may
 * hand the answer to a browser later.
 */
export function needsCors(req: IncomingMessage): boolean {
  if (req.headers.origin !== undefined) return true;
  const method = req.method;
  return method !== "POST" && method !== "PUT" && method !== "DELETE";
}

/** Sets Access-Control-Allow-Origin for this request, before any handler writes the head. */
export function applyCors(origins: CorsOrigins, req: IncomingMessage, res: ServerResponse): void {
  if (!needsCors(req)) return;
  if (origins === "*") {
    res.setHeader("access-control-allow-origin", "*");
    return;
  }
  // The answer depends on the Origin header, so caches must keep one copy per origin.
  res.setHeader("vary", "Origin");
  const origin = req.headers.origin;
  if (origin !== undefined && origins.includes(origin)) res.setHeader("access-control-allow-origin", origin);
}
