import { spawnSync } from "node:child_process";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, startServer, type RunningServer } from "@rill/server";
import { BIN, freePort, serve } from "../support/serve.js";

// One JSON access-log line per request, with a request id, and no secret
// ever written: not the Authorization header, not a token in the query, not
// a message body.

const TOKEN = "tok-3f9a1c-very-secret";
const QUERY_SECRET = "query-secret-8812";
const BODY_SECRET = "body-secret-55aa";

let server: RunningServer;
const output = new PassThrough();
let written = "";
output.on("data", (chunk: Buffer) => (written += chunk.toString("utf8")));

const lines = () =>
  written
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);

beforeAll(async () => {
  server = await startServer({ memory: true, port: 0, logger: createLogger({ level: "info", destination: output }) });
});

afterAll(() => server.close());

describe("access log", () => {
  it("writes one JSON line per request with method, path, status, bytes, duration, client and request id", async () => {
    const res = await fetch(`${server.streamsUrl}/logged`, {
      method: "PUT",
      headers: { "content-type": "text/plain", "x-request-id": "req-42" },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("x-request-id")).toBe("req-42");
    await expect.poll(() => lines().filter((l) => l.request_id === "req-42").length).toBe(1);
    const line = lines().find((l) => l.request_id === "req-42")!;
    expect(line).toMatchObject({
      level: 30,
      event: "request",
      method: "PUT",
      path: "/v1/stream/logged",
      route: "create",
      status: 201,
      client: "127.0.0.1",
    });
    expect(line.bytes).toBeGreaterThan(0);
    expect(typeof line.duration_ms).toBe("number");
    expect(typeof line.time).toBe("number");
  });

  it("generates a request id when the client sends none (or an unusable one) and echoes it", async () => {
    const plain = await fetch(`${server.streamsUrl}/absent?offset=-1`);
    expect(plain.status).toBe(404);
    const generated = plain.headers.get("x-request-id")!;
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    const garbage = await fetch(`${server.streamsUrl}/absent?offset=-1`, { headers: { "x-request-id": "a b<script>" } });
    expect(garbage.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    await expect.poll(() => lines().some((l) => l.request_id === generated && l.status === 404)).toBe(true);
  });

  it("never writes a token, an Authorization header, a query string or a body", async () => {
    await fetch(`${server.streamsUrl}/secrets`, { method: "PUT", headers: { "content-type": "text/plain" } });
    const res = await fetch(`${server.streamsUrl}/secrets?token=${QUERY_SECRET}`, {
      method: "POST",
      headers: { "content-type": "text/plain", authorization: `Bearer ${TOKEN}`, "x-request-id": "secret-check" },
      body: BODY_SECRET,
    });
    expect(res.status).toBe(204);
    // A failing request too: errors are where secrets tend to leak.
    await fetch(`${server.streamsUrl}/secrets?offset=bogus&token=${QUERY_SECRET}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    await expect.poll(() => lines().some((l) => l.request_id === "secret-check")).toBe(true);
    expect(lines().find((l) => l.request_id === "secret-check")).toMatchObject({ path: "/v1/stream/secrets", status: 204 });
    for (const secret of [TOKEN, QUERY_SECRET, BODY_SECRET, "Bearer"]) expect(written).not.toContain(secret);
  });
});

describe("rill serve logs", () => {
  it("writes JSON events off a terminal: start with its facts, then requests, at the chosen --log-level", async () => {
    const { child, origin, startup } = await serve(["--memory", "--port", "0", "--log-level", "info", "--no-console"]);
    const start = JSON.parse(startup.split("\n")[0]!) as Record<string, unknown>;
    expect(start).toMatchObject({ event: "start", url: origin, console: null, metrics: `${origin}/metrics`, msg: `rill listening on ${origin}` });
    expect(start.storage).toMatch(/^memory/);
    let stdout = "";
    child.stdout!.on("data", (chunk: string) => (stdout += chunk));
    try {
      await fetch(`${origin}/v1/stream/x?offset=-1`, { headers: { authorization: `Bearer ${TOKEN}` } });
      await expect.poll(() => stdout.includes('"event":"request"')).toBe(true);
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
      const events = stdout
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(events.find((e) => e.event === "request")).toMatchObject({ method: "GET", status: 404, route: "catch-up" });
      expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(["request", "stopping", "stopped"]));
      expect(stdout).not.toContain(TOKEN);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("--log-level warn drops access lines but still announces the start", async () => {
    const { child, origin } = await serve(["--memory", "--port", "0", "--log-level", "warn", "--no-console"]);
    let stdout = "";
    child.stdout!.on("data", (chunk: string) => (stdout += chunk));
    try {
      expect((await fetch(`${origin}/healthz`)).status).toBe(200);
      expect((await fetch(`${origin}/metrics`)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(stdout).not.toContain('"event":"request"');
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("--no-metrics serves no /metrics", async () => {
    const off = await serve(["--memory", "--port", "0", "--no-metrics", "--no-console", "--log-level", "warn"]);
    try {
      expect((await fetch(`${off.origin}/metrics`)).status).toBe(404);
      expect((await fetch(`${off.origin}/readyz`)).status).toBe(200);
    } finally {
      off.child.kill("SIGKILL");
    }
  });

  it("--metrics-port moves /metrics to a private port (and refuses to go with --no-metrics)", async () => {
    const conflict = spawnSync(process.execPath, [BIN, "serve", "--memory", "--no-metrics", "--metrics-port", "9464"], { encoding: "utf8" });
    expect(conflict.status).not.toBe(0);
    expect(conflict.stderr).toContain("--metrics-port serves metrics, which --no-metrics turns off");
    const metricsPort = await freePort();
    const split = await serve(["--memory", "--port", "0", "--metrics-port", String(metricsPort), "--no-console", "--log-level", "warn"]);
    try {
      expect((await fetch(`${split.origin}/metrics`)).status).toBe(404);
      const scraped = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toContain("rill_http_requests_total");
      expect((await fetch(`http://127.0.0.1:${metricsPort}/v1/stream/x`)).status).toBe(404);
    } finally {
      split.child.kill("SIGKILL");
    }
  });
});
