import type { ExtraRoute } from "@rill/server";
import { createHash } from "node:crypto";
import { createReadStream, readFileSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname, extname, join, sep } from "node:path";

/**
 * Serves the web console (packages/console) under `/console/`. The browser
 * gets the client and protocol packages as the same ES modules Node uses,
 * from `/console/lib/…`, through an import map in index.html: no bundler, no
 * CDN, and it works offline.
 *
 *   /console/            → console/public/index.html (streams path filled in)
 *   /console/<file>      → console/public/<file>
 *   /console/app/…       → console/dist/…
 *   /console/lib/client/…   → @rill/client dist
 *   /console/lib/protocol/… → @rill/protocol dist
 */
export interface ConsoleRouteOptions {
  /** URL path of the stream namespace, e.g. "/v1/stream" (the console reads it from a meta tag). */
  streamsPath: string;
  /** Mount point (default "/console"). */
  mount?: string;
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
};

function packageDir(specifier: string): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve(`${specifier}/package.json`));
}

function distDir(specifier: string): string {
  // These packages export only their entry point; its directory is their dist.
  const require = createRequire(import.meta.url);
  return dirname(require.resolve(specifier));
}

export function consoleRoute(options: ConsoleRouteOptions): ExtraRoute {
  const mount = (options.mount ?? "/console").replace(/\/+$/, "");
  const consoleDir = packageDir("@rill/console");
  const mounts: Array<[prefix: string, dir: string]> = [
    ["lib/client/", distDir("@rill/client")],
    ["lib/protocol/", distDir("@rill/protocol")],
    ["app/", join(consoleDir, "dist")],
    ["", join(consoleDir, "public")],
  ];
  const index = renderIndex(join(consoleDir, "public", "index.html"), options.streamsPath);

  return async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (url.pathname !== mount && !url.pathname.startsWith(`${mount}/`)) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      reply(res, 405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }, "method not allowed\n");
      return true;
    }
    if (url.pathname === mount) {
      reply(res, 308, { location: `${mount}/${url.search}` });
      return true;
    }
    const relative = safeRelativePath(url.pathname.slice(mount.length + 1));
    if (relative === null) {
      reply(res, 400, { "content-type": "text/plain; charset=utf-8" }, "bad path\n");
      return true;
    }
    if (relative === "" || relative === "index.html") {
      sendCached(req, res, index.etag, {
        "content-type": CONTENT_TYPES[".html"]!,
        "cache-control": "no-cache",
        "content-security-policy": index.csp,
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
      }, index.body);
      return true;
    }
    for (const [prefix, dir] of mounts) {
      if (!relative.startsWith(prefix)) continue;
      const file = join(dir, relative.slice(prefix.length));
      if (!file.startsWith(dir + sep)) break;
      let stat;
      try {
        stat = statSync(file);
      } catch {
        stat = null;
      }
      if (!stat?.isFile()) continue;
      const etag = `W/"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
      const headers = {
        "content-type": CONTENT_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
        // Not fingerprinted, so browsers revalidate every time (cheap: 304 on an unchanged ETag).
        "cache-control": "no-cache",
        "content-length": String(stat.size),
      };
      if (notModified(req, etag)) {
        reply(res, 304, { etag, "cache-control": "no-cache" });
        return true;
      }
      res.writeHead(200, { ...headers, etag, "x-content-type-options": "nosniff" });
      if (req.method === "HEAD") res.end();
      else createReadStream(file).on("error", () => res.destroy()).pipe(res);
      return true;
    }
    reply(res, 404, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }, "not found\n");
    return true;
  };
}

/**
 * Percent-decodes a request path and refuses anything that could step out of
 * a mounted directory: `..` or `.` segments, backslashes, NUL, empty segments.
 */
export function safeRelativePath(raw: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return null;
  }
  if (decoded === "") return "";
  if (decoded.includes("\0") || decoded.includes("\\")) return null;
  const segments = decoded.split("/");
  const last = segments.length - 1;
  if (segments.some((segment, i) => segment === ".." || segment === "." || (segment === "" && i !== last))) return null;
  return decoded;
}

interface RenderedIndex {
  body: Buffer;
  etag: string;
  csp: string;
}

/** index.html with the streams path filled in, and a CSP that allows exactly its inline import map. */
function renderIndex(path: string, streamsPath: string): RenderedIndex {
  const template = readFileSync(path, "utf8");
  const escaped = streamsPath.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  const html = template.replace(/(<meta name="rill-streams-path" content=")[^"]*(")/, `$1${escaped}$2`);
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? "";
  const mapHash = createHash("sha256").update(importMap).digest("base64");
  const body = Buffer.from(html);
  return {
    body,
    etag: `"${createHash("sha256").update(body).digest("hex").slice(0, 16)}"`,
    csp: [
      "default-src 'self'",
      `script-src 'self' 'sha256-${mapHash}'`,
      "style-src 'self'",
      "img-src 'self' data:",
      "connect-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join("; "),
  };
}

function notModified(req: IncomingMessage, etag: string): boolean {
  const header = req.headers["if-none-match"];
  return typeof header === "string" && header.split(",").some((tag) => tag.trim() === etag);
}

function sendCached(req: IncomingMessage, res: ServerResponse, etag: string, headers: Record<string, string>, body: Buffer): void {
  if (notModified(req, etag)) {
    reply(res, 304, { etag, "cache-control": headers["cache-control"] ?? "no-cache" });
    return;
  }
  res.writeHead(200, { ...headers, etag, "content-length": String(body.length), "x-content-type-options": "nosniff" });
  res.end(req.method === "HEAD" ? undefined : body);
}

function reply(res: ServerResponse, status: number, headers: Record<string, string>, body?: string): void {
  res.writeHead(status, { ...headers, ...(body === undefined ? {} : { "content-length": String(Buffer.byteLength(body)) }) });
  res.end(body);
}
