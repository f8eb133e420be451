/**
 * Code in the style of the official client's documentation, written against
 * @rill/client. compat.test.ts type-checks it: if it compiles, switching the
 * import is enough for code like this. (Never executed.)
 */
import {
  BackoffDefaults,
  DurableStream,
  DurableStreamError,
  FetchError,
  IdempotentProducer,
  SequenceGapError,
  StaleEpochError,
  StreamClosedError,
  asAsyncIterableReadableStream,
  createFetchWithBackoff,
  stream,
  type ByteChunk,
  type CloseResult,
  type DurableStreamErrorCode,
  type HeadResult,
  type HeadersRecord,
  type IdempotentProducerOptions,
  type JsonBatch,
  type LiveMode,
  type Offset,
  type ParamsRecord,
  type RetryOpts,
  type StreamErrorHandler,
  type StreamOptions,
  type StreamResponse,
  type TextChunk,
} from "../../src/index.js";

declare function saveOffset(offset: Offset): void;
declare function refreshAuthToken(): Promise<string>;
declare function processBatch(items: ReadonlyArray<unknown>): Promise<void>;

export async function reads(url: string, savedOffset: Offset): Promise<void> {
  const res = await stream<{ message: string }>({
    url,
    headers: { Authorization: `Bearer token`, "X-Tenant": () => "t", "X-Auth": async () => "a" },
    params: { tenant: "static", region: () => "eu", skip: undefined },
    offset: savedOffset,
    live: true,
    signal: new AbortController().signal,
    fetch: globalThis.fetch,
    backoffOptions: { ...BackoffDefaults, maxRetries: 5 },
    json: true,
    sseResilience: { minConnectionDuration: 1000, maxShortConnections: 3, backoffBaseDelay: 100, backoffMaxDelay: 5000, logWarnings: false },
    warnOnHttp: false,
    onError: async (error) => {
      if (error instanceof FetchError && error.status === 401) {
        return { headers: { Authorization: `Bearer ${await refreshAuthToken()}` } };
      }
      if (error instanceof DurableStreamError) console.error(error.code);
      return {};
    },
  });
  const items: Array<{ message: string }> = await res.json();
  const typed: number[] = await res.json<number>();
  const bytes: Uint8Array = await res.body();
  const text: string = await res.text();
  const unsubscribe: () => void = res.subscribeJson(async (batch: JsonBatch<{ message: string }>) => {
    for (const item of batch.items) console.log(item.message);
    saveOffset(batch.offset);
    if (batch.streamClosed || batch.upToDate) console.log(batch.cursor);
  });
  res.subscribeBytes(async (chunk: ByteChunk) => void chunk.data.length);
  res.subscribeText((chunk: TextChunk) => void chunk.text);
  unsubscribe();
  for await (const chunk of res.bodyStream()) console.log(chunk.length);
  for await (const item of res.jsonStream()) console.log(item.message);
  for await (const piece of res.textStream()) console.log(piece);
  const reader = res.textStream().getReader();
  await reader.read();
  const derived = asAsyncIterableReadableStream(res.bodyStream().pipeThrough(new TransformStream<Uint8Array, Uint8Array>()));
  for await (const chunk of derived) console.log(chunk);
  res.cancel("Timeout");
  await res.closed;
  const state: [string, string | undefined, LiveMode, Offset, Offset, string | undefined, boolean, boolean] = [
    res.url,
    res.contentType,
    res.live,
    res.startOffset,
    res.offset,
    res.cursor,
    res.upToDate,
    res.streamClosed,
  ];
  const meta: [Headers, number, string, boolean, boolean] = [res.headers, res.status, res.statusText, res.ok, res.isLoading];
  void [items, typed, bytes, text, state, meta];
  const generic: StreamResponse = await stream({ url, live: "sse" });
  await stream({ url, live: "long-poll" });
  await stream({ url, live: false, offset: "-1" });
  void generic;
}

export async function writes(url: string): Promise<void> {
  const handle = await DurableStream.create({
    url,
    headers: { Authorization: "Bearer t" },
    contentType: "application/json",
    ttlSeconds: 3600,
    expiresAt: "2030-01-01T00:00:00Z",
    body: '{"hello":"world"}',
    closed: false,
    batching: true,
  });
  const connected = await DurableStream.connect({ url, headers: { Authorization: "Bearer t" } });
  console.log(connected.contentType, connected.url);
  const meta: HeadResult = await DurableStream.head({ url });
  if (meta.exists) console.log(meta.offset, meta.contentType, meta.etag, meta.cacheControl, meta.streamClosed);
  await DurableStream.delete({ url });
  const cold = new DurableStream({ url, batching: false, contentType: "text/plain" });
  await cold.create({ contentType: "text/plain", ttlSeconds: 7200 });
  await cold.head({ signal: AbortSignal.timeout(1000) });
  await cold.delete({ signal: AbortSignal.timeout(1000) });

  await handle.append(JSON.stringify({ type: "message", text: "Hello" }), { seq: "writer-1-000001" });
  await handle.append({ event: "click", x: 100, y: 200 });
  await Promise.all([handle.append({ event: "msg1" }), handle.append({ event: "msg2" })]);
  await handle.append(new Uint8Array([1, 2, 3]), { contentType: "application/json", signal: AbortSignal.timeout(10) });
  async function* generateData() {
    yield "Line\n";
  }
  await handle.appendStream(generateData());
  await handle.appendStream(new ReadableStream<string>({ start: (c) => c.close() }));
  await new ReadableStream<Uint8Array>().pipeTo(handle.writable());
  await new ReadableStream<string>().pipeTo(handle.writable({ producerId: "p", lingerMs: 10, maxBatchBytes: 65536 }));
  const closed: CloseResult = await handle.close();
  await handle.close({ body: '{"status":"complete"}', contentType: "application/json", signal: AbortSignal.timeout(5) });
  const res = await handle.stream<{ message: string }>({ offset: closed.finalOffset, live: true });
  void res;
  const headers: Record<string, string> = await handle.resolveHeaders();
  void headers;
}

export async function producers(handle: DurableStream): Promise<void> {
  const options: IdempotentProducerOptions = {
    epoch: 0,
    autoClaim: true,
    maxBatchBytes: 1024 * 1024,
    lingerMs: 5,
    maxInFlight: 5,
    headers: { "x-a": "b" },
    signal: new AbortController().signal,
    fetch: globalThis.fetch,
    onError: (error) => {
      if (error instanceof StaleEpochError) console.log(error.currentEpoch);
      else if (error instanceof SequenceGapError) console.log(error.expectedSeq, error.receivedSeq);
      else if (error instanceof StreamClosedError) console.log(error.finalOffset);
    },
  };
  const producer = new IdempotentProducer(handle, "event-processor-1", options);
  producer.append('{"event":"start"}');
  producer.append(new Uint8Array([1]));
  producer.append({ event: "click" });
  await producer.flush();
  const counters: number[] = [producer.epoch, producer.nextSeq, producer.pendingCount, producer.inFlightCount];
  void counters;
  await producer.restart();
  const result: CloseResult = await producer.close('{"event":"end"}');
  await producer.close();
  await producer.detach();
  void result;
}

export const misc = {
  fetchWithBackoff: createFetchWithBackoff(globalThis.fetch, BackoffDefaults),
  codes: ["NOT_FOUND", "CONFLICT_SEQ", "CONFLICT_EXISTS", "BAD_REQUEST", "BUSY", "UNAUTHORIZED", "FORBIDDEN", "RATE_LIMITED", "ALREADY_CONSUMED", "ALREADY_CLOSED", "PARSE_ERROR", "STREAM_CLOSED", "SSE_NOT_SUPPORTED", "UNKNOWN"] satisfies DurableStreamErrorCode[],
  handler: ((error: Error): RetryOpts | void => (error.message ? {} : undefined)) satisfies StreamErrorHandler,
  headers: { a: "b" } satisfies HeadersRecord,
  params: { a: undefined } satisfies ParamsRecord,
  options: { url: new URL("http://x") } satisfies StreamOptions,
};
