/**
 * Against Rill's own server: every error it sends carries a code from the
 * shared list (@rill/protocol ERROR_CODES), and the client turns each code
 * into the error a caller branches on.
 */
import { isErrorCode, parseErrorBody } from "@rill/protocol";
import { describe, expect, it } from "vitest";
import { DurableStream, FetchError, SequenceGapError, StaleEpochError, StreamClosedError, stream } from "../src/index.js";
import { startRill, useTestServer, type ServerOptions, type TestServer } from "./support/servers.js";

async function rillOnly(options: ServerOptions): Promise<TestServer> {
  const server = await startRill(options);
  if (!server) throw new Error("these tests need Rill's server built (npm run build)");
  return server;
}

const server = useTestServer({}, rillOnly);

/** The error a call rejects with, checked to carry a listed server code. */
async function failure(call: () => Promise<unknown>, serverCode: string): Promise<FetchError> {
  const error = await call().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(FetchError);
  const sent = parseErrorBody((error as FetchError).body)?.code;
  expect(isErrorCode(sent), `server code ${sent}`).toBe(true);
  expect(sent).toBe(serverCode);
  return error as FetchError;
}

const json = (label: string) => DurableStream.create({ url: server.streamUrl(label), contentType: "application/json" });

describe("server error codes, mapped by table", () => {
  it("a missing stream and a bad offset", async () => {
    const missing = server.streamUrl("missing");
    expect(await failure(() => stream({ url: missing }), "STREAM_NOT_FOUND")).toMatchObject({ code: "NOT_FOUND", status: 404 });
    const handle = await json("offset");
    const bad = await failure(() => stream({ url: handle.url, offset: "not-an-offset" }), "INVALID_OFFSET");
    expect(bad).toMatchObject({ code: "BAD_REQUEST", status: 400 });
  });

  it("conflicts: existing stream, content type, Stream-Seq, closed stream", async () => {
    const handle = await json("conflicts");
    const exists = await failure(() => DurableStream.create({ url: handle.url, contentType: "text/plain" }), "STREAM_EXISTS");
    expect(exists.code).toBe("CONFLICT_EXISTS");
    const mismatch = await failure(() => handle.append("plain", { contentType: "text/plain" }), "CONTENT_TYPE_MISMATCH");
    expect(mismatch.code).toBe("CONTENT_TYPE_MISMATCH");
    await handle.append({ n: 1 }, { seq: "b" });
    expect((await failure(() => handle.append({ n: 2 }, { seq: "a" }), "SEQUENCE_CONFLICT")).code).toBe("CONFLICT_SEQ");
    const { finalOffset } = await handle.close();
    const closed = await failure(() => handle.append({ n: 3 }), "STREAM_CLOSED");
    expect(closed).toBeInstanceOf(StreamClosedError);
    expect(closed).toMatchObject({ code: "STREAM_CLOSED", finalOffset });
  });

  it("producer errors carry their fields", async () => {
    const handle = await json("producer");
    const gap = await failure(() => handle.append(1, { producerId: "p", producerEpoch: 0, producerSeq: 4 }), "PRODUCER_SEQ_GAP");
    expect(gap).toBeInstanceOf(SequenceGapError);
    expect(gap).toMatchObject({ code: "SEQUENCE_GAP", expectedSeq: 0, receivedSeq: 4 });
    await handle.append(1, { producerId: "p", producerEpoch: 2, producerSeq: 0 });
    const stale = await failure(() => handle.append(2, { producerId: "p", producerEpoch: 1, producerSeq: 0 }), "PRODUCER_STALE_EPOCH");
    expect(stale).toBeInstanceOf(StaleEpochError);
    expect(stale).toMatchObject({ code: "STALE_EPOCH", currentEpoch: 2, status: 403 });
    const start = await failure(() => handle.append(3, { producerId: "p", producerEpoch: 3, producerSeq: 1 }), "PRODUCER_BAD_EPOCH_START");
    expect(start.code).toBe("BAD_REQUEST");
  });

  it("a 409 on PUT is named by its code, not taken for an existing stream", async () => {
    const source = await json("fork-source");
    const path = new URL(source.url).pathname;
    const fork = new DurableStream({ url: server.streamUrl("fork"), headers: { "stream-forked-from": path } });
    const mismatch = await failure(() => fork.create({ contentType: "text/plain" }), "CONTENT_TYPE_MISMATCH");
    expect(mismatch).toMatchObject({ code: "CONTENT_TYPE_MISMATCH", status: 409 });
  });
});
