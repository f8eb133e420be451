import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DurableStream, RetainedOffsetError, stream, type LiveMode } from "@rill/client";
import { isErrorCode, parseErrorBody } from "@rill/protocol";
import { startServer, type RunningServer } from "@rill/server";

// @rill/client against data removed by retention: a typed error carrying the
// earliest offset, or, opted in, a read that skips to it.
let server: RunningServer;
let counter = 0;

beforeAll(async () => {
  server = await startServer({ port: 0, memory: true, maintenanceIntervalMs: 0, longPollTimeoutMs: 300 });
});
afterAll(async () => {
  await server?.close();
});

const offset = (position: number) => `0000000000000000_${String(position).padStart(16, "0")}`;

/** "one,two,three,four," in four appends, with a size limit that keeps only the last two. */
async function trimmed(): Promise<string> {
  const url = `${server.streamsUrl}/retained-${process.pid}-${counter++}`;
  const res = await fetch(url, { method: "PUT", headers: { "content-type": "text/plain", "rill-retention-bytes": "12" } });
  expect(res.status).toBe(201);
  const handle = new DurableStream({ url, contentType: "text/plain" });
  for (const word of ["one,", "two,", "three,", "four,"]) await handle.append(word);
  await server.engine.maintainer.runAll();
  return url;
}

describe("reading below the earliest retained offset", () => {
  it.each<LiveMode>([false, "long-poll", "sse"])("fails with a RetainedOffsetError naming the earliest offset (live %s)", async (live) => {
    const url = await trimmed();
    const error = await stream({ url, offset: offset(2), live }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetainedOffsetError);
    expect(error).toMatchObject({ status: 410, code: "OFFSET_RETAINED", earliestOffset: offset(8) });
    // The server's code is one of the shared list the client maps by table.
    const sent = parseErrorBody((error as RetainedOffsetError).body)?.code;
    expect(sent).toBe("OFFSET_RETAINED");
    expect(isErrorCode(sent)).toBe(true);
  });

  it('skips to the earliest retained data with onRetained: "skip-to-earliest"', async () => {
    const url = await trimmed();
    const res = await stream({ url, offset: offset(2), live: false, onRetained: "skip-to-earliest" });
    expect(await res.text()).toBe("three,four,");
    expect(res.offset).toBe(offset(19));
  });

  it("reads from -1 at the earliest retained data without any error", async () => {
    const url = await trimmed();
    expect(await (await stream({ url, live: false })).text()).toBe("three,four,");
  });
});
