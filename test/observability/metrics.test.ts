import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "@rill/server";
import { parseExposition, type Exposition } from "../support/prometheus.js";

const DOCS = new URL("../../docs/", import.meta.url);

// Metrics are process-wide, so every check is a difference between two scrapes around one action.

let server: RunningServer;
let sqlite: RunningServer;
let dir: string;
const PREFIX = "metrics-test-secret-name";
const PRODUCER = "producer-with-a-unique-id-4711";

beforeAll(async () => {
  server = await startServer({ memory: true, port: 0, sseKeepAliveMs: 60_000 });
  dir = mkdtempSync(join(tmpdir(), "rill-metrics-"));
  // No expiry sweeper: its rounds would mix into the commit-round counts this file checks.
  sqlite = await startServer({ dataDir: dir, port: 0, sweepIntervalMs: 0 });
});

afterAll(async () => {
  await server.close();
  await sqlite.close();
  rmSync(dir, { recursive: true, force: true });
});

async function scrape(target = server): Promise<Exposition> {
  const res = await fetch(`${target.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

/** How much each named series moved while `action` ran. */
async function delta(series: Array<[string, Record<string, string>?]>, action: () => Promise<void>, target = server) {
  const before = await scrape(target);
  await action();
  const after = await scrape(target);
  return series.map(([name, labels]) => after.value(name, labels) - before.value(name, labels));
}

const json = { "content-type": "application/json" };
const url = (name: string, target = server) => `${target.streamsUrl}/${PREFIX}/${name}`;

async function create(name: string, target = server) {
  expect((await fetch(url(name, target), { method: "PUT", headers: json })).status).toBe(201);
}

describe("/metrics", () => {
  it("counts an append: one request, the append, its messages and stored bytes", async () => {
    await create("append");
    const moved = await delta(
      [
        ["rill_appends_total"],
        ["rill_append_messages_total"],
        ["rill_append_bytes_total"],
        ["rill_http_requests_total", { method: "POST", route: "append", status_class: "2xx" }],
        ["rill_http_request_duration_seconds_count", { route: "append" }],
      ],
      async () => {
        const res = await fetch(url("append"), { method: "POST", headers: json, body: '[{"a":1}, 2]' });
        expect(res.status).toBe(204);
      },
    );
    // Stored framed: `{"a":1},2,` is 10 bytes.
    expect(moved).toEqual([1, 2, 10, 1, 1]);
  });

  it("counts a producer's retry as a duplicate, not as a second append", async () => {
    await create("producer");
    const headers = { ...json, "producer-id": PRODUCER, "producer-epoch": "0", "producer-seq": "0" };
    const first = await fetch(url("producer"), { method: "POST", headers, body: '"once"' });
    expect(first.status).toBe(200);
    const moved = await delta([["rill_producer_duplicates_total"], ["rill_appends_total"], ["rill_append_bytes_total"]], async () => {
      expect((await fetch(url("producer"), { method: "POST", headers, body: '"once"' })).status).toBe(204);
    });
    expect(moved).toEqual([1, 0, 0]);
  });

  it("counts a fenced producer and a sequence gap as rejected appends with their reasons", async () => {
    await create("fenced");
    const send = (epoch: number, seq: number) =>
      fetch(url("fenced"), {
        method: "POST",
        headers: { ...json, "producer-id": PRODUCER, "producer-epoch": String(epoch), "producer-seq": String(seq) },
        body: "1",
      });
    expect((await send(1, 0)).status).toBe(200);
    const moved = await delta(
      [
        ["rill_producer_fenced_total"],
        ["rill_producer_seq_gaps_total"],
        ["rill_appends_rejected_total", { reason: "producer_stale_epoch" }],
        ["rill_appends_rejected_total", { reason: "producer_seq_gap" }],
      ],
      async () => {
        expect((await send(0, 1)).status).toBe(403);
        expect((await send(1, 5)).status).toBe(409);
      },
    );
    expect(moved).toEqual([1, 1, 1, 1]);
  });

  it("counts the bytes a catch-up read served", async () => {
    await create("catch-up");
    await fetch(url("catch-up"), { method: "POST", headers: json, body: '["x","y"]' });
    let body = "";
    const moved = await delta(
      [["rill_read_bytes_total", { mode: "catch-up" }], ["rill_http_requests_total", { method: "GET", route: "catch-up", status_class: "2xx" }]],
      async () => {
        const res = await fetch(`${url("catch-up")}?offset=-1`);
        body = await res.text();
      },
    );
    expect(body).toBe('["x","y"]');
    expect(moved).toEqual([Buffer.byteLength(body), 1]);
  });

  it("tracks an SSE reader: counted as live while connected, every byte it received counted as written", async () => {
    await create("sse");
    await fetch(url("sse"), { method: "POST", headers: json, body: '"before"' });
    const before = await scrape();
    const controller = new AbortController();
    const res = await fetch(`${url("sse")}?offset=-1&live=sse`, { signal: controller.signal });
    const reader = res.body!.getReader();
    let received = "";
    const readUntil = async (text: string) => {
      while (!received.includes(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`SSE ended before ${text}: ${received}`);
        received += Buffer.from(value).toString("utf8");
      }
    };
    await readUntil("before");
    await readUntil('"upToDate":true');
    await fetch(url("sse"), { method: "POST", headers: json, body: '"live"' });
    await readUntil('"live"');
    await readUntil('"upToDate":true}\n\n');
    const during = await scrape();
    expect(during.value("rill_live_readers", { mode: "sse" }) - before.value("rill_live_readers", { mode: "sse" })).toBe(1);
    expect(during.value("rill_sse_bytes_total") - before.value("rill_sse_bytes_total")).toBe(Buffer.byteLength(received));
    // Catch-up (data + control) is one write, the live append another.
    expect(during.value("rill_sse_frames_total") - before.value("rill_sse_frames_total")).toBe(2);
    controller.abort();
    await reader.cancel().catch(() => undefined);
    await expect.poll(async () => (await scrape()).value("rill_live_readers", { mode: "sse" })).toBe(before.value("rill_live_readers", { mode: "sse" }));
    expect((await scrape()).value("rill_http_requests_total", { method: "GET", route: "sse" })).toBeGreaterThanOrEqual(1);
  });

  it("counts a 4xx by its status class and a refused append by its reason", async () => {
    const moved = await delta(
      [
        ["rill_http_requests_total", { method: "GET", route: "catch-up", status_class: "4xx" }],
        ["rill_http_requests_total", { method: "POST", route: "append", status_class: "4xx" }],
        ["rill_appends_rejected_total", { reason: "stream_not_found" }],
        ["rill_appends_rejected_total", { reason: "invalid_json" }],
      ],
      async () => {
        expect((await fetch(`${url("absent")}?offset=-1`)).status).toBe(404);
        expect((await fetch(url("absent"), { method: "POST", headers: json, body: "1" })).status).toBe(404);
        await create("bad-json");
        expect((await fetch(url("bad-json"), { method: "POST", headers: json, body: "{nope" })).status).toBe(400);
      },
    );
    expect(moved).toEqual([1, 2, 1, 1]);
  });

  it("counts created and deleted streams and samples how many there are", async () => {
    const moved = await delta(
      [["rill_streams_created_total"], ["rill_streams_deleted_total"], ["rill_streams", { store: "memory" }]],
      async () => {
        await create("short-lived");
        await create("kept");
        expect((await fetch(url("short-lived"), { method: "DELETE" })).status).toBe(204);
      },
    );
    expect(moved).toEqual([2, 1, 1]);
  });

  it("times SQLite commit rounds and fsyncs and reports the database's size", async () => {
    const names = ["a", "b", "c"];
    const moved = await delta(
      [
        ["rill_commit_round_requests_count", { store: "sqlite" }],
        ["rill_commit_round_requests_sum", { store: "sqlite" }],
        ["rill_store_commit_duration_seconds_count", { store: "sqlite" }],
      ],
      async () => {
        for (const name of names) await create(name, sqlite);
      },
      sqlite,
    );
    expect(moved[0]).toBeGreaterThanOrEqual(1);
    expect(moved[1]).toBe(names.length);
    expect(moved[2]).toBe(moved[0]);
    const now = await scrape(sqlite);
    expect(now.value("rill_store_size_bytes", { store: "sqlite" })).toBeGreaterThan(4096);
    expect(now.value("rill_commit_queue_depth", { store: "sqlite" })).toBe(0);
    expect(now.value("rill_streams", { store: "sqlite" })).toBe(names.length);
  });

  it("parses cleanly, includes Node's process metrics, and no label holds a stream name or producer id", async () => {
    const exposition = await scrape();
    for (const name of ["nodejs_eventloop_lag_seconds", "nodejs_heap_size_used_bytes", "nodejs_gc_duration_seconds", "process_cpu_seconds_total"]) {
      expect(exposition.families.has(name), name).toBe(true);
    }
    const allowed: Record<string, RegExp> = {
      method: /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|other)$/,
      route: /^(catch-up|long-poll|sse|append|create|delete|head|subscription|control|preflight|other)$/,
      status_class: /^([1-5]xx|aborted)$/,
      reason: /^[a-z_]+$/,
      code: /^[a-z_]+$/,
      limit: /^(total|per_address)$/,
      mode: /^(sse|long-poll|catch-up)$/,
      store: /^(memory|sqlite|postgres|custom)$/,
      le: /^(\d+(\.\d+)?(e[-+]?\d+)?|\+Inf)$/,
      state: /^(in_use|idle|waiting)$/,
      type: /^(webhook|pull-wake)$/,
      outcome: /^(done|leased|failed)$/,
      schema: /^[a-z_][a-z0-9_]*$/,
    };
    for (const family of exposition.families.values()) {
      for (const sample of family.samples) {
        for (const [label, value] of Object.entries(sample.labels)) {
          expect(value).not.toContain(PREFIX);
          expect(value).not.toContain(PRODUCER);
          if (family.name.startsWith("rill_")) {
            expect(allowed[label], `${family.name} has an unexpected label ${label}`).toBeDefined();
            expect(value, `${family.name}{${label}}`).toMatch(allowed[label]!);
          }
        }
      }
    }
  });

  it("docs/operations.md documents every Rill metric, and the Grafana dashboard queries only metrics that exist", async () => {
    const exposition = await scrape();
    const rill = [...exposition.families.keys()].filter((name) => name.startsWith("rill_"));
    expect(rill.length).toBeGreaterThan(30);
    const operations = readFileSync(new URL("operations.md", DOCS), "utf8");
    for (const name of rill) expect(operations, name).toContain(`\`${name}\``);
    const dashboard = JSON.parse(readFileSync(new URL("grafana-dashboard.json", DOCS), "utf8")) as {
      panels: Array<{ targets?: Array<{ expr: string }> }>;
    };
    const exprs = dashboard.panels.flatMap((panel) => panel.targets ?? []).map((target) => target.expr);
    expect(exprs.length).toBeGreaterThan(20);
    const known = new Set(exposition.families.keys());
    for (const expr of exprs) {
      for (const [used] of expr.matchAll(/\b(?:rill|nodejs|process)_[a-z0-9_]+/g)) {
        const family = used.replace(/_(bucket|sum|count)$/, "");
        expect(known.has(family) || known.has(used), `${used} in ${expr}`).toBe(true);
      }
    }
  });
});
