/**
 * A real browser: the client is bundled for the browser (rolldown, one ESM
 * file), loaded into headless Chromium from another origin (so CORS is in
 * play), and tails streams over SSE and long-poll while a producer in Node
 * writes. The test asserts what the page received.
 */
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { rolldown } from "rolldown";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DurableStream, IdempotentProducer } from "../src/index.js";
import { startTestServer, type TestServer } from "./support/servers.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

let server: TestServer;
let site: Server;
let siteUrl: string;
let browser: Browser;
let page: Page;

async function bundleClient(): Promise<string> {
  const input = fileURLToPath(new URL("../src/index.ts", import.meta.url));
  const bundle = await rolldown({ input, platform: "browser" });
  const { output } = await bundle.generate({ format: "esm" });
  await bundle.close();
  return output[0].code;
}

const haveChromium = existsSync(CHROMIUM);

/** The page loads the bundle as a module and hands the client to the test. */
const PAGE = `<!doctype html>
<title>rill client</title>
<script type="module">
  import * as client from "/client.js";
  window.rill = client;
</script>`;

beforeAll(async () => {
  if (!haveChromium) return;
  server = await startTestServer({ longPollTimeoutMs: 500 });
  const code = await bundleClient();
  site = createServer((req, res) => {
    if (req.url === "/client.js") {
      res.writeHead(200, { "content-type": "text/javascript" });
      res.end(code);
      return;
    }
    res.writeHead(200, { "content-type": "text/html" });
    res.end(PAGE);
  });
  await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--headless"] });
  page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(`${siteUrl}/`);
  await page.waitForFunction(() => "rill" in window);
  expect(errors).toEqual([]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => site?.close(resolve));
  await server?.close();
});

describe.skipIf(!haveChromium)("in Chromium", () => {
  it("tails JSON over SSE and long-poll, and bytes over SSE, while a producer writes", async () => {
    const jsonUrl = server.streamUrl("browser-json");
    const binUrl = server.streamUrl("browser-bin");
    const json = await DurableStream.create({ url: jsonUrl, contentType: "application/json" });
    const bin = await DurableStream.create({ url: binUrl, contentType: "application/octet-stream" });
    await json.append({ seq: -1, note: "before the page connected" });

    // In the page: three readers, each resolving with what it saw once the stream closes.
    const received = page.evaluate(
      async ({ jsonUrl, binUrl }) => {
        const { stream } = (window as unknown as { rill: typeof import("../src/index.js") }).rill;
        const w = window as unknown as { caughtUp: number };
        w.caughtUp = 0;
        const follow = async (live: "sse" | "long-poll") => {
          const res = await stream<{ seq: number }>({ url: jsonUrl, live });
          const items: Array<{ seq: number }> = [];
          let counted = false;
          res.subscribeJson((batch) => {
            items.push(...batch.items);
            if (batch.upToDate && !counted) {
              counted = true;
              w.caughtUp++;
            }
          });
          await res.closed;
          return { items, offset: res.offset, closed: res.streamClosed };
        };
        const bytes = async () => {
          const res = await stream({ url: binUrl, live: "sse" });
          const data: number[] = [];
          let counted = false;
          res.subscribeBytes((chunk) => {
            data.push(...chunk.data);
            if (chunk.upToDate && !counted) {
              counted = true;
              w.caughtUp++;
            }
          });
          await res.closed;
          return data;
        };
        const [sse, longPoll, binary] = await Promise.all([follow("sse"), follow("long-poll"), bytes()]);
        return { sse, longPoll, binary, userAgent: navigator.userAgent };
      },
      { jsonUrl, binUrl },
    );
    received.catch(() => undefined); // observed below; avoid an unhandled rejection if we fail first

    await page.waitForFunction(() => (window as unknown as { caughtUp?: number }).caughtUp === 3, undefined, { timeout: 10_000 });
    const producer = new IdempotentProducer(json, "node-writer", { lingerMs: 2, maxBatchBytes: 200 });
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (let i = 0; i < 300; i++) {
      producer.append({ seq: i });
      if (i % 50 === 49) {
        await producer.flush();
        await bin.append(all.subarray((i - 49) % 256, ((i - 49) % 256) + 50));
      }
    }
    const { finalOffset } = await producer.close({ seq: 300 });
    await bin.close();

    const result = await received;
    expect(result.userAgent).toContain("HeadlessChrome");
    const expected = [{ seq: -1, note: "before the page connected" }, ...Array.from({ length: 301 }, (_, i) => ({ seq: i }))];
    for (const reader of [result.sse, result.longPoll]) {
      expect(reader.items).toEqual(expected);
      expect(reader.closed).toBe(true);
      expect(reader.offset).toBe(finalOffset);
    }
    const expectedBytes = [0, 50, 100, 150, 200, 250].flatMap((start) => Array.from(all.subarray(start % 256, (start % 256) + 50)));
    expect(result.binary).toEqual(expectedBytes);
  }, 60_000);
});
