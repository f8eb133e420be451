/**
 * Servers for the client tests. The suites run against Rill's own server
 * when packages/server/dist exports startServer, and against the official
 * reference server otherwise (or when RILL_CLIENT_TEST_SERVER=official).
 * interop.test.ts always uses the official one.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DurableStreamTestServer } from "@durable-streams/server";
import { afterAll, beforeAll } from "vitest";
import { DurableStream } from "../../src/index.js";

export interface TestServer {
  kind: "rill" | "official";
  /** Base URL, no trailing slash. */
  url: string;
  /** A URL for a fresh stream name. */
  streamUrl(label?: string): string;
  close(): Promise<void>;
}

export interface ServerOptions {
  longPollTimeoutMs?: number;
  /** Official server only: gzip responses (its default). */
  compression?: boolean;
}

let counter = 0;
function namer(base: string) {
  return (label = "s") => `${base}/v1/stream/${label}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

export async function startOfficialServer(options: ServerOptions = {}): Promise<TestServer> {
  const server = new DurableStreamTestServer({
    port: 0,
    host: "127.0.0.1",
    longPollTimeout: options.longPollTimeoutMs ?? 1000,
    compression: options.compression ?? false,
  });
  const url = (await server.start()).replace(/\/$/, "");
  return { kind: "official", url, streamUrl: namer(url), close: () => server.stop() };
}

const rillEntry = fileURLToPath(new URL("../../../server/dist/index.js", import.meta.url));

/** Whether Rill's server is built (its dist exists). */
export const rillServerBuilt = existsSync(rillEntry);

/** Rill's server, or undefined when it is not built. */
export async function startRill(options: ServerOptions = {}): Promise<TestServer | undefined> {
  return startRillServer(options);
}

async function startRillServer(options: ServerOptions): Promise<TestServer | undefined> {
  if (!existsSync(rillEntry)) return undefined;
  const mod = (await import(rillEntry)) as {
    startServer?: (o: object) => Promise<{ url: string; close(): Promise<void> }>;
  };
  if (typeof mod.startServer !== "function") return undefined;
  const server = await mod.startServer({
    port: 0,
    host: "127.0.0.1",
    memory: true,
    longPollTimeoutMs: options.longPollTimeoutMs ?? 1000,
  });
  const url = server.url.replace(/\/$/, "");
  return { kind: "rill", url, streamUrl: namer(url), close: () => server.close() };
}

/** Rill's server when it is built, the official one otherwise. */
export async function startTestServer(options: ServerOptions = {}): Promise<TestServer> {
  const choice = process.env.RILL_CLIENT_TEST_SERVER;
  if (choice !== "official") {
    const rill = await startRillServer(options);
    if (rill) return rill;
    if (choice === "rill") throw new Error(`RILL_CLIENT_TEST_SERVER=rill but ${rillEntry} does not export startServer`);
  }
  return startOfficialServer(options);
}

/**
 * One server for the calling test file: started before its tests (by
 * startTestServer unless another start is given), closed after them. Call it
 * at the top level of a test file; what it returns stands for that server
 * inside the tests.
 */
export function useTestServer(
  options: ServerOptions = {},
  start: (options: ServerOptions) => Promise<TestServer> = startTestServer,
): TestServer {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await start(options);
  });
  afterAll(async () => {
    await server?.close();
  });
  const current = (): TestServer => {
    if (!server) throw new Error("the test server is only there inside tests, after beforeAll");
    return server;
  };
  return {
    get kind() {
      return current().kind;
    },
    get url() {
      return current().url;
    },
    streamUrl: (label) => current().streamUrl(label),
    close: () => current().close(),
  };
}

/** Creates a fresh JSON stream on server and appends items to it one by one. */
export async function jsonStream(server: TestServer, items: unknown[] = [], label = "read") {
  const url = server.streamUrl(label);
  const handle = await DurableStream.create({ url, contentType: "application/json" });
  for (const item of items) await handle.append(item);
  return { url, handle };
}
