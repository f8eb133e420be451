/**
 * Why HTTP/2 matters to a browser page: headless Chromium follows 20 SSE
 * streams at once. From `rill serve --tls-self-signed` (HTTP/2 over one
 * connection) every stream sees every append within a second; from the same
 * server over plain HTTP/1.1 the browser's limit of 6 connections per origin
 * leaves 14 of the streams waiting, which the test asserts to prove the point.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { Agent, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve } from "../support/serve.js";
import { h2connect, h2request } from "./h2-client.js";

const STREAMS = 20;
const dataDir = mkdtempSync(join(tmpdir(), "rill-browser-h2-"));
// Idle sessions stay open for the whole test: undici closing one (4 s idle by default) while the
// next request is being put on it is a client-side race this test is not about.
const insecure = new Agent({ allowH2: true, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000, connect: { rejectUnauthorized: false } });
const children: ChildProcess[] = [];
let browser: Browser;

async function rillServe(args: string[]): Promise<string> {
  const { child, origin } = await serve(["--memory", "--port", "0", "--no-console", "--data-dir", dataDir, ...args]);
  children.push(child);
  return origin;
}

async function call(url: string, method: string, body?: string) {
  const res = await undiciFetch(url, { method, headers: { "content-type": "text/plain" }, body, dispatcher: insecure });
  await res.arrayBuffer();
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status}`);
}

/** A page of the server's own origin that follows every stream with an EventSource and notes what arrives when. */
async function follow(origin: string, prefix: string): Promise<Page> {
  for (let i = 0; i < STREAMS; i++) await call(`${origin}/v1/stream/${prefix}-${i}`, "PUT");
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(`${origin}/blank`); // a 404 page, but of this origin
  await page.evaluate(
    ({ origin, prefix, count }) => {
      const state = { opened: new Set<number>(), received: [] as Array<Array<{ text: string; at: number }>> };
      (window as unknown as { follow: typeof state }).follow = state;
      for (let i = 0; i < count; i++) {
        state.received.push([]);
        const source = new EventSource(`${origin}/v1/stream/${prefix}-${i}?offset=now&live=sse`);
        source.onopen = () => state.opened.add(i);
        source.addEventListener("data", (event) => state.received[i]!.push({ text: (event as MessageEvent).data, at: Date.now() }));
      }
    },
    { origin, prefix, count: STREAMS },
  );
  return page;
}

const opened = (page: Page) => page.evaluate(() => (window as unknown as { follow: { opened: Set<number> } }).follow.opened.size);
const received = (page: Page) =>
  page.evaluate(() => (window as unknown as { follow: { received: Array<Array<{ text: string; at: number }>> } }).follow.received);

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--ignore-certificate-errors"],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  for (const child of children) child.kill("SIGTERM");
  await insecure.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("a browser page following 20 streams", () => {
  it("over HTTPS with HTTP/2 sees each append on every stream within a second", async () => {
    const origin = await rillServe(["--tls-self-signed"]);
    expect(origin).toMatch(/^https:/);
    const page = await follow(origin, "h2");
    expect(await page.evaluate(() => (performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming).nextHopProtocol)).toBe("h2");
    await waitFor(async () => (await opened(page)) === STREAMS, 10_000);

    // The writer multiplexes its 20 appends over one open HTTP/2 connection, so the time measured is
    // the server's and the browser's, not that of new connections for the test's own requests.
    const writer = await h2connect(origin, undefined, { rejectUnauthorized: false });
    try {
      for (let round = 1; round <= 3; round++) {
        const sentAt = Date.now();
        const answers = await Promise.all(
          Array.from({ length: STREAMS }, (_, i) =>
            h2request(writer, { ":method": "POST", ":path": `/v1/stream/h2-${i}`, "content-type": "text/plain" }, `m${round}`),
          ),
        );
        expect(answers.map((answer) => answer.status)).toEqual(Array(STREAMS).fill(204));
        await waitFor(async () => (await received(page)).every((events) => events.length === round), 5_000);
        for (const events of await received(page)) {
          expect(events[round - 1]!.text).toBe(`m${round}`);
          expect(events[round - 1]!.at - sentAt).toBeLessThan(1_000);
        }
      }
    } finally {
      writer.destroy();
    }
  }, 60_000);

  it("over plain HTTP/1.1 stalls at 6 streams (the browser's connection limit per origin)", async () => {
    const origin = await rillServe([]);
    const page = await follow(origin, "h1");
    await waitFor(async () => (await opened(page)) === 6, 10_000);
    await Promise.all(Array.from({ length: STREAMS }, (_, i) => call(`${origin}/v1/stream/h1-${i}`, "POST", "m1")));
    await waitFor(async () => (await received(page)).filter((events) => events.length === 1).length === 6, 5_000);
    // Long enough for any of the other 14 to have started, had they been able to.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await opened(page)).toBe(6);
    const counts = (await received(page)).map((events) => events.length);
    expect(counts.filter((n) => n === 1)).toHaveLength(6);
    expect(counts.filter((n) => n === 0)).toHaveLength(STREAMS - 6);
  }, 60_000);
});
