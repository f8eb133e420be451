/**
 * End to end: `rill serve` with its console, driven in headless Debian
 * Chromium. Creates a stream from the form, appends from the composer, and
 * watches messages from two other writers (a fetch from this test and a
 * `rill append` process) arrive live in the stream view.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, serve } from "./support/serve.js";

const ARTIFACTS = fileURLToPath(new URL("../test-artifacts/", import.meta.url));

let server: ChildProcess;
let origin: string;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

function runCli(args: string[]): Promise<number | null> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: "ignore", env: { ...process.env, RILL_URL: origin } });
  return new Promise((resolve) => child.on("close", resolve));
}

beforeAll(async () => {
  ({ child: server, origin } = await serve(["--memory", "--port", "0"]));
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(message.text());
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
});

describe("web console", () => {
  it("creates a stream, appends from the composer, and shows other writers' messages live", async () => {
    await page.goto(`${origin}/console/`);
    await expect.poll(() => page.locator("#list-status").textContent()).toBe("No streams yet.");

    // Create a JSON stream from the form; the view opens on it.
    await page.fill('#create-form input[name="name"]', "e2e/chat");
    await page.selectOption('#create-form select[name="contentType"]', "application/json");
    await page.click('#create-form button[type="submit"]');
    await page.waitForSelector('article.stream-view[data-stream="e2e/chat"]');
    await expect.poll(() => page.locator('[data-testid="live-status"]').getAttribute("data-state"), { timeout: 10_000 }).toBe("live");
    await expect.poll(() => page.locator('#stream-list a[data-stream="e2e/chat"]').count()).toBe(1);
    // The "created" note says so, then clears by itself.
    expect(await page.locator("#create-status").textContent()).toBe("created e2e/chat");
    await expect.poll(() => page.locator("#create-status").textContent(), { timeout: 8000 }).toBe("");

    // Append from the composer.
    await page.fill(".composer textarea", JSON.stringify({ from: "browser", text: "hello from the composer" }));
    await page.click('.composer button[type="submit"]');
    const log = page.locator('[data-testid="log"]');
    await expect.poll(() => log.textContent(), { timeout: 10_000 }).toContain("hello from the composer");

    // Another writer: a plain HTTP append from this test.
    const response = await fetch(`${origin}/v1/stream/e2e/chat`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ from: "test", text: "appended over HTTP", nested: { list: [1, 2, 3], ok: true } }),
    });
    expect(response.status).toBe(204);
    await expect.poll(() => log.textContent(), { timeout: 10_000 }).toContain("appended over HTTP");

    // And another process: the rill CLI.
    expect(await runCli(["append", "e2e/chat", JSON.stringify({ from: "rill append", text: "from another process" })])).toBe(0);
    await expect.poll(() => log.textContent(), { timeout: 10_000 }).toContain("from another process");

    // Three messages, in order, one row each; a click shows one pretty-printed as a foldable tree.
    const previews = await page.locator(".row .row-preview").allTextContents();
    expect(previews).toHaveLength(3);
    expect(previews[0]).toContain("hello from the composer");
    expect(previews[1]).toContain("appended over HTTP");
    expect(previews[2]).toContain("from another process");
    await page.locator(".row").nth(1).click();
    expect(await page.locator('[data-testid="detail"] .j-key').first().textContent()).toBe('"from"');

    // The tail offset in the stream's facts is the stream's tail, and the last row carries it.
    const head = await fetch(`${origin}/v1/stream/e2e/chat`, { method: "HEAD" });
    const tail = head.headers.get("stream-next-offset");
    await expect.poll(() => page.locator('[data-fact="tail"]').textContent(), { timeout: 5000 }).toBe(tail);
    expect(await page.locator(".row .row-offset").last().textContent()).toBe(`→ ${tail}`);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}console.png` });
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it("opens a resume link at its offset, and close and delete work from the view", async () => {
    const head = await fetch(`${origin}/v1/stream/e2e/chat`, { method: "HEAD" });
    const tail = head.headers.get("stream-next-offset")!;
    await page.goto(`${origin}/console/#/stream/e2e/chat?offset=${encodeURIComponent(tail)}`);
    await expect.poll(() => page.locator('[data-testid="live-status"]').getAttribute("data-state"), { timeout: 10_000 }).toBe("live");
    expect(await page.locator(".row").count()).toBe(0);

    await fetch(`${origin}/v1/stream/e2e/chat`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"after":"resume"}' });
    await expect.poll(() => page.locator(".row").count(), { timeout: 10_000 }).toBe(1);

    page.on("dialog", (dialog) => void dialog.accept());
    await page.click("text=Close stream");
    await expect.poll(() => page.locator(".stream-header .badge.closed").count(), { timeout: 10_000 }).toBe(1);
    expect(await page.locator(".composer textarea").isDisabled()).toBe(true);
    expect((await fetch(`${origin}/v1/stream/e2e/chat`, { method: "HEAD" })).headers.get("stream-closed")).toBe("true");

    await page.click("text=Delete");
    await page.waitForSelector(".empty-view");
    expect((await fetch(`${origin}/v1/stream/e2e/chat`, { method: "HEAD" })).status).toBe(404);
    await expect.poll(() => page.locator("#list-status").textContent(), { timeout: 10_000 }).toBe("No streams yet.");
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
