import type { IncomingMessage, ServerResponse } from "node:http";
import type { ExtraRoute } from "../http/context.js";
import { send } from "../http/respond.js";

export interface HomePageOptions {
  /** Where streams live, e.g. "/v1/stream". */
  basePath: string;
  /** Where a web console is mounted (e.g. "/console/"), or null when there is none. */
  consolePath: string | null;
  /** Whether /metrics is served on this port. */
  metrics: boolean;
}

const PROTOCOL_DOCS = "https://github.com/durable-streams/durable-streams";

const escapeHtml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/**
 * `GET /`: a short page for a person who opened the server in a browser —
 * where the console, the streams, the health endpoints and the metrics are.
 * Only `/` itself: every other path outside the base path stays a 404.
 */
export function homePageRoute(options: HomePageOptions): ExtraRoute {
  return async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (url.pathname !== "/" || (req.method !== "GET" && req.method !== "HEAD")) return false;
    const origin = `${url.protocol}//${url.host}`;
    const html = renderHomePage(options, origin);
    send(
      res,
      200,
      {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-cache",
        "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        "referrer-policy": "no-referrer",
      },
      req.method === "HEAD" ? undefined : html,
    );
    return true;
  };
}

export function renderHomePage(options: HomePageOptions, origin: string): string {
  const streams = escapeHtml(`${origin}${options.basePath}`);
  const link = (href: string, label: string, what: string) =>
    `    <li><a href="${escapeHtml(href)}">${escapeHtml(label)}</a> — ${what}</li>`;
  const items = [
    options.consolePath ? link(options.consolePath, "Console", "browse, create, read and tail streams") : null,
    link(PROTOCOL_DOCS, "Durable Streams protocol", "what the HTTP API means"),
    link("/healthz", "/healthz", "200 while the server runs"),
    link("/readyz", "/readyz", "200 when the store is reachable and writable, 503 with a reason otherwise"),
    options.metrics ? link("/metrics", "/metrics", "Prometheus metrics") : null,
  ].filter((item) => item !== null);
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Rill</title>
  <style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#222}code,pre{background:#f3f3f3;border-radius:4px}pre{padding:.75rem;overflow-x:auto;font-size:.85rem}code{padding:0 .25rem}</style>
</head>
<body>
  <h1>Rill</h1>
  <p>A Durable Streams server. Streams live under <code>${streams}/&lt;name&gt;</code>.</p>
  <ul>
${items.join("\n")}
  </ul>
  <pre>curl -X PUT  -H 'content-type: application/json' ${streams}/demo
curl -X POST -H 'content-type: application/json' -d '{"hello":"world"}' ${streams}/demo
curl '${streams}/demo?offset=-1'</pre>
</body>
</html>
`;
}
