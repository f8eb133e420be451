import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { saveState, stateFilePath, type AppendState } from "../dist/append-state.js";
import { collect, runCli, spawnCli, startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
let dir: string;
let stateDir: string;
const streamUrl = (name: string) => `${t.url}/v1/stream/${name}`;
const env = () => ({ ...t.env, RILL_STATE_DIR: stateDir });

beforeAll(async () => {
  t = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), "rill-resume-"));
});
afterAll(async () => {
  await t.stop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  stateDir = mkdtempSync(join(dir, "state-"));
});

function jsonLines(count: number, tag = "m"): string {
  let text = "";
  for (let i = 0; i < count; i++) text += `${JSON.stringify({ i, tag, pad: "x".repeat(24) })}\n`;
  return text;
}

async function createJsonStream(name: string): Promise<void> {
  const response = await fetch(streamUrl(name), { method: "PUT", headers: { "content-type": "application/json" } });
  expect(response.status).toBe(201);
}

async function readMessages(name: string): Promise<Array<{ i: number }>> {
  const result = await runCli(["read", name], { env: env() });
  expect(result.code).toBe(0);
  return result.stdout
    .trimEnd()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { i: number });
}

/** The only state file in this test's state directory, parsed (null when there is none). */
function currentState(): AppendState | null {
  const names = readdirSync(stateDir).filter((name) => name.endsWith(".json"));
  if (names.length === 0) return null;
  try {
    return JSON.parse(readFileSync(join(stateDir, names[0]!), "utf8")) as AppendState;
  } catch {
    return null; // caught between write and rename
  }
}

/** Starts an append and SIGKILLs it once the server has acknowledged more than `afterBytes` of input. */
async function killMidRun(args: string[], afterBytes: number, input?: string): Promise<AppendState> {
  const child = spawnCli(args, { env: env(), input });
  const done = collect(child, 60_000);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const state = currentState();
    if (state && state.ackedBytes > afterBytes) break;
    if (child.exitCode !== null) throw new Error(`append finished before it could be interrupted: ${JSON.stringify(await done)}`);
    if (Date.now() > deadline) throw new Error("append made no progress");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  child.kill("SIGKILL");
  const result = await done;
  expect(result.signal).toBe("SIGKILL");
  return currentState()!;
}

function expectExactlyOnce(messages: Array<{ i: number }>, count: number): void {
  expect(messages).toHaveLength(count);
  messages.forEach((message, index) => expect(message.i).toBe(index));
}

describe("append resumes after an interruption without duplicates", () => {
  it("survives repeated SIGKILLs of a file append and delivers every line exactly once", async () => {
    const count = 30_000;
    const file = join(dir, "events.jsonl");
    writeFileSync(file, jsonLines(count));
    const size = statSync(file).size;
    await createJsonStream("resume/file");
    const args = ["append", "resume/file", "--json-lines", "--file", file, "--batch-size", "8KiB"];

    const epochs: number[] = [];
    for (const fraction of [0.15, 0.4, 0.7]) {
      const state = await killMidRun(args, Math.floor(size * fraction));
      epochs.push(state.epoch);
      expect(state.ackedBytes).toBeLessThan(size);
    }
    // Each resumed run works under a new epoch of the same producer.
    expect(epochs[1]).toBeGreaterThan(epochs[0]!);
    expect(epochs[2]).toBeGreaterThan(epochs[1]!);

    const final = await runCli([...args, "--json"], { env: env(), timeoutMs: 60_000 });
    expect(final.code).toBe(0);
    expect(final.stderr).toMatch(/^rill: resuming: [\d,]+ messages/);
    const summary = JSON.parse(final.stdout);
    expect(summary.resumed).toBe(true);
    // Finished: nothing left to resume, and the state remembers the run completed (see failures.test.ts).
    expect(currentState()).toMatchObject({ pending: null, ackedMessages: count, completed: { inputSize: statSync(file).size } });

    expectExactlyOnce(await readMessages("resume/file"), count);
  }, 120_000);

  it("resumes standard input when the same data is piped again", async () => {
    const count = 20_000;
    const input = jsonLines(count, "stdin");
    await createJsonStream("resume/stdin");
    const args = ["append", "resume/stdin", "--json-lines", "--batch-size", "8KiB"];
    await killMidRun(args, Math.floor(input.length * 0.3), input);
    const final = await runCli(args, { env: env(), input, timeoutMs: 60_000 });
    expect(final.code).toBe(0);
    expect(final.stderr).toContain("resuming");
    expectExactlyOnce(await readMessages("resume/stdin"), count);
  }, 120_000);

  it("resumes a byte stream at the acknowledged byte", async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${"y".repeat(30)}\n`).join("");
    const file = join(dir, "log.txt");
    writeFileSync(file, lines);
    await fetch(streamUrl("resume/text"), { method: "PUT", headers: { "content-type": "text/plain" } });
    const args = ["append", "resume/text", "--file", file, "--batch-size", "4KiB"];
    await killMidRun(args, Math.floor(lines.length * 0.4));
    expect((await runCli(args, { env: env(), timeoutMs: 60_000 })).code).toBe(0);
    const read = await runCli(["read", "resume/text"], { env: env() });
    expect(read.stdout).toBe(lines);
  }, 120_000);

  it.each([
    ["had reached the server", true],
    ["had not reached the server", false],
  ])("re-sends the batch in flight at the crash, which %s, exactly once", async (_label, delivered) => {
    const name = `resume/pending-${delivered}`;
    await createJsonStream(name);
    const text = jsonLines(10, "pending");
    const file = join(dir, `pending-${delivered}.jsonl`);
    writeFileSync(file, text);
    const producerId = `rill-cli-test-${delivered}`;
    const body = `[${text.trimEnd().split("\n").join(",")}]`;
    if (delivered) {
      // What the interrupted run managed to send before it died: the whole file as (epoch 0, seq 0).
      const response = await fetch(streamUrl(name), {
        method: "POST",
        headers: { "content-type": "application/json", "producer-id": producerId, "producer-epoch": "0", "producer-seq": "0" },
        body,
      });
      expect(response.status).toBe(200);
    }
    // ...and the state it left: that batch pending, nothing acknowledged.
    const { createHash } = await import("node:crypto");
    const headHash = createHash("sha256").update(text).digest("hex");
    const path = stateFilePath(stateDir, streamUrl(name), file, headHash);
    saveState(path, {
      version: 1,
      url: streamUrl(name),
      input: file,
      headHash,
      jsonLines: true,
      batchBytes: 256 * 1024,
      producerId,
      epoch: 0,
      ackedBytes: 0,
      ackedMessages: 0,
      pending: { seq: 0, fromBytes: 0, toBytes: text.length, messages: 10 },
      updatedAt: new Date().toISOString(),
    });

    const result = await runCli(["append", name, "--json-lines", "--file", file, "--json"], { env: env() });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ messages: 10, resumed: true });
    expectExactlyOnce(await readMessages(name), 10);
  });

  it("refuses to resume with different input, and starts over with --no-resume", async () => {
    const file = join(dir, "changing.jsonl");
    const original = jsonLines(20_000, "before");
    writeFileSync(file, original);
    await createJsonStream("resume/changed");
    const args = ["append", "resume/changed", "--json-lines", "--file", file, "--batch-size", "8KiB"];
    const interrupted = await killMidRun(args, Math.floor(original.length * 0.2));

    writeFileSync(file, jsonLines(20_000, "after"));
    const refused = await runCli(args, { env: env() });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^rill: the input differs from the interrupted run recorded in .*; use --no-resume to start over\n$/);

    const fresh = await runCli([...args, "--no-resume", "--json"], { env: env(), timeoutMs: 60_000 });
    expect(fresh.code).toBe(0);
    expect(JSON.parse(fresh.stdout)).toMatchObject({ messages: 20_000, resumed: false });
    const messages = await readMessages("resume/changed");
    // What the interrupted run delivered stays; the new input follows in full.
    expect(messages.length).toBeGreaterThanOrEqual(interrupted.ackedMessages + 20_000);
    expect(messages.slice(-20_000).every((m, index) => m.i === index && (m as { tag?: string }).tag === "after")).toBe(true);
  }, 120_000);
});
