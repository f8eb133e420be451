/**
 * The servers the interop suite runs the official packages against: Rill's
 * server and the official reference server (@durable-streams/server), so a
 * failure on Rill alone stands out. Built on the client tests' helpers.
 */
import { describe } from "vitest";
import { startOfficialServer, startRill, type TestServer } from "../../packages/client/test/support/servers.js";

export type { TestServer } from "../../packages/client/test/support/servers.js";

export const TARGETS = ["rill", "reference"] as const;
export type Target = (typeof TARGETS)[number];

export async function startTarget(target: Target, longPollTimeoutMs = 1_000): Promise<TestServer> {
  if (target === "reference") return startOfficialServer({ longPollTimeoutMs });
  const rill = await startRill({ longPollTimeoutMs });
  if (!rill) throw new Error("Rill's server is not built (run npm run build)");
  return rill;
}

/** describe.each over the targets, naming each block after its server. */
export const eachTarget = describe.each(TARGETS);

/** Polls `check` until it returns true (or throws what it last threw after `timeoutMs`). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
