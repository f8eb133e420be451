/**
 * The console as issue #14 asks for it, in headless Chromium against a real
 * `rill serve`: a 100,000-message stream paged back to its first message
 * through "load older"; the connection status while the server is stopped
 * and started again; filters and the table view; the rate chart moving
 * while another process appends; missing and empty streams; and the token
 * prompt against a server run with --tokens. Screenshots go to
 * test-artifacts/.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, freePort, serve } from "./support/serve.js";

const ARTIFACTS = fileURLToPath(new URL("../test-artifacts/", import.meta.url));

let server: ChildProcess;
let origin: string;
let port: number;
let dataDir: string;
let browser: Browser;
const pageErrors: string[] = [];

async function startRill(): Promise<void> {
  ({ child: server, origin } = await serve(["--data-dir", dataDir, "--port", String(port)]));
}

async function stopRill(): Promise<void> {
  const exited = new Promise((resolve) => server.once("exit", resolve));
  server.kill("SIGTERM");
  await exited;
}

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(`${error.message}\n${error.stack ?? ""}`));
  return page;
}

async function createJson(name: string): Promise<string> {
  const url = `${origin}/v1/stream/${name}`;
  expect((await fetch(url, { method: "PUT", headers: { "content-type": "application/json" } })).status).toBe(201);
  return url;
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<void> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  expect(response.status).toBe(204);
}

const status = (page: Page) => page.locator('[data-testid="live-status"]');
const shot = (page: Page, name: string) => page.screenshot({ path: `${ARTIFACTS}${name}.png` });

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), "rill-console-e2e-"));
  port = await freePort();
  await startRill();
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
});

describe("console: long streams", () => {
  it("shows the newest messages of 100,000, says how many earlier ones are not shown, and pages back to the first", async () => {
    const url = await createJson("big/hundred-k");
    let afterFirstBatch = "";
    for (let batch = 0; batch < 10; batch++) {
      const items = Array.from({ length: 10_000 }, (_, k) => ({ i: batch * 10_000 + k, user: k % 2 ? "ada" : "bob", note: "x".repeat(24) }));
      const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(items) });
      expect(response.status).toBe(204);
      if (batch === 0) afterFirstBatch = response.headers.get("stream-next-offset")!;
    }
    const page = await newPage();
    await page.goto(`${origin}/console/#/stream/big/hundred-k`);
    await expect.poll(() => status(page).getAttribute("data-state"), { timeout: 30_000 }).toBe("live");
    const banner = page.locator('[data-testid="older-banner"]');
    await expect.poll(() => banner.textContent()).toBe("98,000 earlier messages not shown · Load older (50,000)");
    // The newest message is at the bottom, in view.
    await expect.poll(() => page.locator(".row .row-preview").last().textContent()).toContain('"i":99999');
    expect(await page.locator('[data-fact="messages"]').textContent()).toBe("100,000");
    await shot(page, "console-100k-newest");

    for (let clicks = 0; clicks < 20 && (await page.locator('[data-testid="load-older"]').count()) > 0; clicks++) {
      await page.click('[data-testid="load-older"]');
      await page.waitForFunction(() => !document.querySelector('[data-testid="load-older"]')?.hasAttribute("disabled"));
    }
    await expect.poll(() => banner.textContent()).toBe("Start of stream · 100,000 messages");
    await page.locator('[data-testid="log"]').evaluate((list) => (list.scrollTop = 0));
    await expect.poll(() => page.locator(".row .row-number").first().textContent()).toBe("#1");
    expect(await page.locator(".row .row-preview").first().textContent()).toContain('{"i":0,');
    // Virtualized: a handful of rows in the DOM, not 100,000.
    expect(await page.locator(".row").count()).toBeLessThan(80);
    await shot(page, "console-100k-top");

    // Jump to an offset: the view reopens there and says earlier messages are not loaded.
    const boundary = afterFirstBatch;
    const before = 10_000;
    await page.fill(".jump-offset", boundary);
    await page.click(".jump button");
    await expect.poll(() => banner.textContent(), { timeout: 20_000 }).toBe(
      "88,000 earlier messages (counted from the offset this view opened at) not shown · Load older (50,000)",
    );
    expect(page.url()).toContain(`?offset=${boundary}`);
    for (let clicks = 0; clicks < 5 && (await page.locator('[data-testid="load-older"]').count()) > 0; clicks++) {
      await page.click('[data-testid="load-older"]');
      await page.waitForFunction(() => !document.querySelector('[data-testid="load-older"]')?.hasAttribute("disabled"));
    }
    await expect.poll(() => banner.textContent()).toBe("Opened at an offset: messages before it are not loaded · Read from the start");
    await page.locator('[data-testid="log"]').evaluate((list) => (list.scrollTop = 0));
    await expect.poll(() => page.locator(".row .row-number").first().textContent()).toBe("+1");
    expect(await page.locator(".row .row-preview").first().textContent()).toContain(`{"i":${before},`);
    expect(await page.locator('[data-fact="messages"]').textContent()).toBe("unknown (opened at an offset)");
    expect(pageErrors.join("\n")).toBe("");
  }, 120_000);
});

describe("console: filters, table, copy and download", () => {
  it("filters by text and by JSON path, shows JSON objects as a table, copies a message and downloads JSON lines", async () => {
    const url = await createJson("team/chat");
    await post(url, [
      { user: "ada", text: "hello", n: 1 },
      { user: "bob", text: "hi ada", n: 2 },
      { user: "ada", text: "how are you", n: 3, mood: "curious" },
      { user: "cyd", text: "fine", n: 4 },
    ]);
    const fork = await fetch(`${origin}/v1/stream/team/chat-fork`, { method: "PUT", headers: { "stream-forked-from": "/v1/stream/team/chat" } });
    expect(fork.status).toBe(201);
    const page = await newPage();
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
    await page.goto(`${origin}/console/#/stream/team/chat`);
    await expect.poll(() => page.locator(".row").count(), { timeout: 10_000 }).toBe(4);
    // The facts name the fork, and the fork names its source.
    await expect.poll(() => page.locator('[data-fact="forks"]').textContent(), { timeout: 10_000 }).toBe("team/chat-fork");
    expect(await page.locator('[data-fact="messages"]').textContent()).toBe("4");
    await page.click('[data-fact="forks"] a');
    await expect.poll(() => page.locator('[data-fact="forked from"]').textContent(), { timeout: 10_000 }).toBe("team/chat");
    await page.goBack();
    await expect.poll(() => page.locator(".row").count(), { timeout: 10_000 }).toBe(4);

    await page.fill(".message-filter", '.user == "ada"');
    await expect.poll(() => page.locator(".row").count()).toBe(2);
    expect(await page.locator('[data-testid="filter-note"]').textContent()).toBe('2 of 4 loaded messages match .user == "ada"');
    await page.fill(".message-filter", ".n >= 3");
    await expect.poll(() => page.locator(".row").count()).toBe(2);
    await page.fill(".message-filter", "ADA");
    await expect.poll(() => page.locator(".row").count()).toBe(3);
    await page.fill(".message-filter", ".user ==");
    await expect.poll(() => page.locator('[data-testid="filter-note"]').textContent()).toBe("a value is needed after ==");
    await page.fill(".message-filter", ".mood");
    await expect.poll(() => page.locator(".row").count()).toBe(1);
    await page.fill(".message-filter", "");

    await page.click('[data-testid="view-toggle"]');
    expect(await page.locator(".table-head span").allTextContents()).toEqual(["#", "user", "text", "n", "mood"]);
    const firstRow = await page.locator(".table-row").first().locator(".cell").allTextContents();
    expect(firstRow).toEqual(['"ada"', '"hello"', "1", ""]);
    await page.fill(".message-filter", '.user == "ada"');
    await expect.poll(() => page.locator(".table-row").count()).toBe(2);
    await shot(page, "console-filter-table");

    await page.locator(".table-row").nth(1).click();
    await page.click('[data-testid="copy-message"]');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe('{"user":"ada","text":"how are you","n":3,"mood":"curious"}');

    const [download] = await Promise.all([page.waitForEvent("download"), page.click("text=Download .jsonl")]);
    expect(download.suggestedFilename()).toMatch(/^team_chat_start_0+_\d+\.jsonl$/);
    const path = await download.path();
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(path, "utf8")).toBe('{"user":"ada","text":"hello","n":1}\n{"user":"ada","text":"how are you","n":3,"mood":"curious"}\n');
    expect(pageErrors.join("\n")).toBe("");
  }, 60_000);
});

describe("console: stream states", () => {
  it("a missing stream offers no close, delete or copy; an empty one says it is empty", async () => {
    const page = await newPage();
    await page.goto(`${origin}/console/#/stream/nowhere/at-all`);
    await page.waitForSelector('[data-testid="missing-stream"]');
    expect(await page.locator(".stream-view .actions").isHidden()).toBe(true);
    expect(await page.locator(".composer").isHidden()).toBe(true);
    expect(await status(page).textContent()).toBe("not found");
    await shot(page, "console-missing");

    await createJson("quiet/empty");
    await page.goto(`${origin}/console/#/stream/quiet/empty`);
    await expect.poll(() => page.locator('[data-testid="empty-stream"]').textContent(), { timeout: 10_000 }).toBe(
      "This stream is empty. Messages appear here as soon as they are appended.",
    );
    await post(`${origin}/v1/stream/quiet/empty`, { first: true });
    await expect.poll(() => page.locator('[data-testid="empty-stream"]').isHidden(), { timeout: 10_000 }).toBe(true);

    // A text stream: each chunk is a row, shown in full when clicked.
    const text = `${origin}/v1/stream/quiet/log`;
    expect((await fetch(text, { method: "PUT", headers: { "content-type": "text/plain" }, body: "hello\nworld\n" })).status).toBe(201);
    await page.goto(`${origin}/console/#/stream/quiet/log`);
    await expect.poll(() => page.locator(".row .row-preview").first().textContent(), { timeout: 10_000 }).toBe("hello⏎ world⏎ ");
    await page.locator(".row").first().click();
    expect(await page.locator('[data-testid="detail"] pre.text-message').textContent()).toBe("hello\nworld\n");
    expect(await page.locator('[data-testid="view-toggle"]').isHidden()).toBe(true);
    expect(await page.locator('[data-fact="messages"]').textContent()).toBe("1 chunk");
    expect(pageErrors.join("\n")).toBe("");
  }, 60_000);
});

describe("console: live rate and connection", () => {
  it("the rate chart moves while another process appends", async () => {
    const url = await createJson("live/rate");
    const page = await newPage();
    await page.goto(`${origin}/console/#/stream/live/rate`);
    await expect.poll(() => status(page).getAttribute("data-state"), { timeout: 10_000 }).toBe("live");
    const chart = page.locator('[data-testid="rate-chart"]');
    expect(await chart.getAttribute("data-window-messages")).toBe("0");

    // Another process: a node script appending 20 messages a second for three seconds.
    const writer = spawn(process.execPath, [
      "--input-type=module",
      "-e",
      `for (let i = 0; i < 60; i++) { await fetch(${JSON.stringify(url)}, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ i }) }); await new Promise((r) => setTimeout(r, 50)); }`,
    ]);
    const before = await chart.screenshot();
    await expect.poll(async () => Number(await chart.getAttribute("data-last-second-messages")), { timeout: 10_000 }).toBeGreaterThan(5);
    const during = await chart.screenshot();
    expect(during.equals(before)).toBe(false);
    await new Promise((resolve) => writer.once("exit", resolve));
    await shot(page, "console-rate-chart");
    await expect.poll(async () => Number(await chart.getAttribute("data-window-messages")), { timeout: 10_000 }).toBe(60);
    expect(await page.locator('[data-testid="rate-label"]').textContent()).toMatch(/msg\/s · .*\/s \(peak \d+ msg\/s/);
    expect(pageErrors.join("\n")).toBe("");
  }, 60_000);

  it("shows reconnecting and then offline while the server is down, and connected again after it restarts", async () => {
    const url = await createJson("live/restart");
    const page = await newPage();
    await page.goto(`${origin}/console/#/stream/live/restart`);
    await expect.poll(() => status(page).getAttribute("data-state"), { timeout: 10_000 }).toBe("live");

    await stopRill();
    await expect.poll(() => status(page).getAttribute("data-state"), { timeout: 10_000 }).toBe("reconnecting");
    expect(await status(page).textContent()).toMatch(/^reconnecting… \(server unreachable/);
    await shot(page, "console-reconnecting");
    await expect.poll(() => status(page).getAttribute("data-state"), { timeout: 20_000 }).toBe("offline");
    expect(await status(page).textContent()).toMatch(/^offline · server unreachable for \d+s, still retrying$/);
    await shot(page, "console-offline");

    await startRill();
    await expect.poll(() => status(page).getAttribute("data-state"), { timeout: 15_000 }).toBe("live");
    await post(url, { after: "restart" });
    await expect.poll(() => page.locator(".row .row-preview").last().textContent(), { timeout: 10_000 }).toContain("restart");
    await shot(page, "console-reconnected");
    expect(pageErrors.join("\n")).toBe("");
  }, 90_000);
});

describe("console: access tokens", () => {
  // A second server with access control on: static tokens made by `rill token create`.
  let secure: { child: ChildProcess; origin: string };
  let writer: string;
  let reader: string;
  const token = async (scope: string) => {
    const child = spawn(process.execPath, [BIN, "token", "create", "--scope", scope], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    await new Promise((resolve) => child.once("exit", resolve));
    const [value, line] = out.trim().split("\n");
    return { value: value!, line: line! };
  };
  beforeAll(async () => {
    const all = await token("admin read:** write:** delete:**");
    const readOnly = await token("read:**");
    writer = all.value;
    reader = readOnly.value;
    const file = join(dataDir, "tokens.txt");
    writeFileSync(file, `${all.line}\n${readOnly.line}\n`);
    secure = await serve(["--memory", "--port", "0", "--tokens", file]);
  }, 30_000);
  afterAll(() => {
    secure?.child.kill("SIGTERM");
  });
  const authorized = () => ({ authorization: `Bearer ${writer}` });

  it("asks for a token once on 401, keeps it for the tab, sends it on every request, and says so on 403", async () => {
    const url = `${secure.origin}/v1/stream/secure/feed`;
    expect((await fetch(url, { method: "PUT", headers: { "content-type": "application/json", ...authorized() } })).status).toBe(201);
    await post(url, { secret: 1 }, authorized());
    const page = await newPage();
    await page.goto(`${secure.origin}/console/#/stream/secure/feed`);
    const dialog = page.locator('[data-testid="token-dialog"]');
    await dialog.waitFor();
    // The stream view, its facts and the list all needed a token at once: one prompt.
    expect(await dialog.count()).toBe(1);
    await shot(page, "console-token-prompt");

    await page.fill('[data-testid="token-dialog"] input', "rill_not-a-real-token");
    await page.click('[data-testid="token-dialog"] button[type="submit"]');
    await page.locator('[data-testid="token-rejected"]').waitFor();
    await page.fill('[data-testid="token-dialog"] input', writer);
    await page.click('[data-testid="token-dialog"] button[type="submit"]');
    await expect.poll(() => status(page).getAttribute("data-state"), { timeout: 10_000 }).toBe("live");
    await expect.poll(() => page.locator(".row").count()).toBe(1);
    await expect.poll(() => page.locator('#stream-list a[data-stream="secure/feed"]').count()).toBe(1);
    expect(await page.evaluate(() => sessionStorage.getItem("rill-console-token"))).toBe(writer);
    expect(await page.locator('[data-testid="token-state"]').textContent()).toBe("token in use");

    // Live reads carry the token too (the server refuses them without one): an append shows up over SSE.
    await post(url, { secret: 2 }, authorized());
    await expect.poll(() => page.locator(".row").count(), { timeout: 10_000 }).toBe(2);

    // A reload keeps the token (same tab): no prompt.
    await page.reload();
    await expect.poll(() => page.locator(".row").count(), { timeout: 10_000 }).toBe(2);
    expect(await dialog.count()).toBe(0);

    // A token that may only read: the append is refused, clearly.
    await page.evaluate((value) => sessionStorage.setItem("rill-console-token", value), reader);
    await page.reload();
    await expect.poll(() => page.locator(".row").count(), { timeout: 10_000 }).toBe(2);
    await page.fill(".composer textarea", '{"denied": true}');
    await page.click('.composer button[type="submit"]');
    await expect.poll(() => page.locator(".composer [role=status]").textContent(), { timeout: 10_000 }).toMatch(/^insufficient scope: this token may not do that here/);
    await shot(page, "console-token-403");

    // Forget: the token is gone, and the next request asks again.
    await page.click('[data-testid="forget-token"]');
    expect(await page.evaluate(() => sessionStorage.getItem("rill-console-token"))).toBeNull();
    await dialog.waitFor();
    expect(pageErrors.join("\n")).toBe("");
  }, 60_000);
});
