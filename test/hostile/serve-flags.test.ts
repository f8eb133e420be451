import { spawnSync, type ChildProcess } from "node:child_process";
import { afterEach, expect, it } from "vitest";
import { BIN, serve } from "../support/serve.js";
import { stopChild } from "./support.js";

// `rill serve` takes every limit from a flag or from its environment variable.
let child: ChildProcess | undefined;
afterEach(async () => {
  await stopChild(child);
  child = undefined;
});

it("reads limits from environment variables", async () => {
  const env = { ...process.env, RILL_MAX_STREAMS: "1", RILL_MAX_HEADER_SIZE: "2KiB" };
  const started = await serve(["--port", "0", "--memory", "--no-console"], { env });
  child = started.child;
  const base = `${started.origin}/v1/stream`;
  expect((await fetch(`${base}/one`, { method: "PUT", headers: { "content-type": "text/plain" } })).status).toBe(201);
  const second = await fetch(`${base}/two`, { method: "PUT", headers: { "content-type": "text/plain" } });
  expect(second.status).toBe(503);
  expect(second.headers.get("retry-after")).toBe("60");
  expect((await fetch(`${base}/one`, { headers: { "x-filler": "f".repeat(4096) } })).status).toBe(431);
});

it("refuses a limit that is not a number, and one that cannot be turned off, naming it", () => {
  const notNumber = spawnSync(process.execPath, [BIN, "serve", "--memory", "--max-connections", "lots"], { encoding: "utf8", timeout: 10_000 });
  expect(notNumber.status).not.toBe(0);
  expect(notNumber.stderr).toMatch(/max-connections/);
  expect(notNumber.stderr).toMatch(/not a whole number/);
  const zero = spawnSync(process.execPath, [BIN, "serve", "--memory", "--port", "0", "--max-pending-output", "0"], { encoding: "utf8", timeout: 10_000 });
  expect(zero.status).not.toBe(0);
  expect(zero.stderr).toMatch(/--max-pending-output cannot be 0/);
});
