import { createHash } from "node:crypto";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Serve } from "../../../test/support/serve.js";
import { safeRelativePath } from "../dist/console-route.js";
import { cleanEnv } from "./helpers.js";

/** `rill serve --memory` on a free port, without the caller's RILL_* settings. */
const serveInMemory = (args: string[]) => serve(["--memory", "--port", "0", ...args], { env: cleanEnv() });

/** A GET with the path sent exactly as written (fetch would normalise `..`). */
function rawGet(origin: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(origin);
    const req = request({ host: url.hostname, port: url.port, path, method: "GET" }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

let main: Serve;
let custom: Serve;
let off: Serve;

beforeAll(async () => {
  [main, custom, off] = await Promise.all([serveInMemory([]), serveInMemory(["--base-path", "/api/streams"]), serveInMemory(["--no-console"])]);
}, 30_000);
afterAll(() => {
  for (const server of [main, custom, off]) server?.child.kill("SIGTERM");
});

describe("rill serve's console", () => {
  it("announces the console and redirects /console to /console/", async () => {
    const response = await fetch(`${main.origin}/console`, { redirect: "manual" });
    expect(response.status).toBe(308);
    expect(response.headers.get("location")).toBe("/console/");
  });

  it("serves index.html with the streams path, a CSP that admits exactly its import map, and revalidation", async () => {
    const response = await fetch(`${main.origin}/console/`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("no-cache");
    const html = await response.text();
    expect(html).toContain('<meta name="rill-streams-path" content="/v1/stream" />');
    const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)![1]!;
    const hash = createHash("sha256").update(importMap).digest("base64");
    const csp = response.headers.get("content-security-policy")!;
    expect(csp).toContain(`script-src 'self' 'sha256-${hash}'`);
    expect(csp).toContain("connect-src 'self'");
    // Nothing is loaded from elsewhere: every src/href is relative.
    for (const [, url] of html.matchAll(/(?:src|href)="([^"]+)"/g)) expect(url).not.toMatch(/^(https?:)?\/\//);

    const etag = response.headers.get("etag")!;
    const again = await fetch(`${main.origin}/console/`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);

    const customHtml = await (await fetch(`${custom.origin}/console/`)).text();
    expect(customHtml).toContain('<meta name="rill-streams-path" content="/api/streams" />');
  });

  it("serves the app, the client and the protocol modules with the right content types", async () => {
    for (const [path, type] of [
      ["/console/app/app.js", "text/javascript; charset=utf-8"],
      ["/console/lib/client/index.js", "text/javascript; charset=utf-8"],
      ["/console/lib/protocol/index.js", "text/javascript; charset=utf-8"],
      ["/console/console.css", "text/css; charset=utf-8"],
      ["/console/favicon.svg", "image/svg+xml"],
    ] as const) {
      const response = await fetch(`${main.origin}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get("content-type"), path).toBe(type);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      const etag = response.headers.get("etag")!;
      expect(etag).toMatch(/^W\/"/);
      expect((await fetch(`${main.origin}${path}`, { headers: { "if-none-match": etag } })).status).toBe(304);
    }
    const app = await (await fetch(`${main.origin}/console/app/app.js`)).text();
    expect(app).toContain('from "@rill/client"');
  });

  it("refuses directory traversal and other methods; unknown files are 404", async () => {
    for (const path of [
      "/console/lib/client/..%2f..%2fpackage.json",
      "/console/..%2F..%2F..%2Fpackage.json",
      "/console/lib/client/..%5c..%5cpackage.json",
      "/console/app/%00.js",
    ]) {
      const response = await rawGet(main.origin, path);
      expect(response.status, path).toBe(400);
      expect(response.body).not.toContain('"name"');
    }
    // `..` and `%2e%2e` segments never reach the console: URL parsing resolves them, which leaves the console.
    for (const path of ["/console/../package.json", "/console/app/%2e%2e/%2e%2e/package.json"]) {
      const dotted = await rawGet(main.origin, path);
      expect(dotted.status, path).toBe(404);
      expect(dotted.body).not.toContain('"workspaces"');
    }

    expect((await fetch(`${main.origin}/console/nothing.js`)).status).toBe(404);
    expect((await fetch(`${main.origin}/console/`, { method: "POST", body: "x" })).status).toBe(405);
  });

  it("is absent with --no-console", async () => {
    expect((await fetch(`${off.origin}/console/`)).status).toBe(404);
    expect((await fetch(`${off.origin}/v1/stream/anything`, { method: "PUT" })).status).toBe(201);
  });

  it("decodes request paths safely", () => {
    expect(safeRelativePath("app/app.js")).toBe("app/app.js");
    expect(safeRelativePath("")).toBe("");
    expect(safeRelativePath("a%20b.css")).toBe("a b.css");
    for (const bad of ["..", "a/../b", "./a", "a//b", "a\\b", "a%5cb", "%2e%2e/x", "%00", "%E0%A4%A"]) {
      expect(safeRelativePath(bad), bad).toBeNull();
    }
  });
});
