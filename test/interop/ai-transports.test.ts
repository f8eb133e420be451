import { createDurableChatTransport, toDurableStreamResponse } from "@durable-streams/aisdk-transport";
import { durableStreamConnection, toDurableChatSessionResponse } from "@durable-streams/tanstack-ai-transport";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eachTarget, eventually, startTarget, type Target, type TestServer } from "./targets.js";

// The AI transports unmodified: a fake model's chunks written through their
// server helpers into a stream, read by their client side, interrupted and
// resumed; every chunk must arrive exactly once, in order.

const API = "http://app.invalid/api/chat";

/** A fake model: yields its chunks one at a time, each only once the test releases it. */
function fakeModel<T>(chunks: T[]) {
  let released = 0;
  let wake: (() => void) | undefined;
  async function* run(): AsyncGenerator<T> {
    for (let i = 0; i < chunks.length; i++) {
      while (released <= i) await new Promise<void>((resolve) => (wake = resolve));
      yield chunks[i]!;
    }
  }
  return {
    source: run(),
    release(count = 1) {
      released += count;
      wake?.();
    },
  };
}

function uiChunks(count: number) {
  const deltas = Array.from({ length: count }, (_, i) => ({ type: "text-delta", id: "t1", delta: `word${i} ` }));
  return [{ type: "start", messageId: "m1" }, { type: "text-start", id: "t1" }, ...deltas, { type: "text-end", id: "t1" }, { type: "finish" }];
}

function tanstackChunks(count: number) {
  const timestamp = 1_700_000_000_000;
  const content = Array.from({ length: count }, (_, i) => ({ type: "TEXT_MESSAGE_CONTENT", messageId: "a1", delta: `tok${i} `, model: "fake", timestamp }));
  return [
    { type: "TEXT_MESSAGE_START", messageId: "a1", role: "assistant", model: "fake", timestamp },
    ...content,
    { type: "TEXT_MESSAGE_END", messageId: "a1", model: "fake", timestamp },
  ];
}

async function take<T>(reader: ReadableStreamDefaultReader<T>, count: number): Promise<T[]> {
  const out: T[] = [];
  while (out.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    out.push(value);
  }
  return out;
}

async function drain<T>(reader: ReadableStreamDefaultReader<T>): Promise<T[]> {
  const out: T[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return out;
    out.push(value);
  }
}

eachTarget("AI transports against the %s server", (target: Target) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTarget(target, 500);
  });
  afterAll(() => server?.close());

  describe("@durable-streams/aisdk-transport", () => {
    it("streams a fake model's chunks to the chat transport; after an interruption the reconnect replays each exactly once", async () => {
      const chunks = uiChunks(20);
      const model = fakeModel(chunks);
      const streams = new Map<string, string>();
      const writers: Promise<unknown>[] = [];
      // The application's routes, as the transport's fetchClient: POST starts a reply, GET finds its stream.
      const app = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
        const url = String(input);
        if (init?.method === "POST" && url === API) {
          const { id } = JSON.parse(String(init.body)) as { id: string };
          const streamUrl = server.streamUrl(`aisdk-${id}`);
          streams.set(id, streamUrl);
          return toDurableStreamResponse({ source: model.source, stream: { writeUrl: streamUrl }, waitUntil: (p) => writers.push(p) });
        }
        const match = /\/api\/chat\/([^/]+)\/stream$/.exec(url);
        const streamUrl = match ? streams.get(match[1]!) : undefined;
        return streamUrl ? new Response(null, { status: 200, headers: { Location: streamUrl } }) : new Response(null, { status: 204 });
      };
      const transport = createDurableChatTransport({ api: API, fetchClient: app as typeof fetch });

      const interrupted = new AbortController();
      const first = await transport.sendMessages({
        trigger: "submit-message",
        chatId: "chat-1",
        messageId: undefined,
        messages: [{ id: "u1", role: "user", parts: [{ type: "text", text: "hello" }] }],
        abortSignal: interrupted.signal,
      });
      const firstReader = first.getReader();
      model.release(8);
      const seenBefore = await take(firstReader, 8);
      expect(seenBefore).toEqual(chunks.slice(0, 8));
      interrupted.abort(); // the page went away mid-reply
      firstReader.cancel().catch(() => undefined);

      model.release(5); // the model keeps going meanwhile
      const resumed = await transport.reconnectToStream({ chatId: "chat-1" });
      expect(resumed).not.toBeNull();
      const resumedReader = resumed!.getReader();
      model.release(chunks.length);
      const replayed = await drain(resumedReader);
      expect(replayed).toEqual(chunks);
      await Promise.all(writers);
      await expect(transport.reconnectToStream({ chatId: "unknown" })).resolves.toBeNull();
    });
  });

  describe("@durable-streams/tanstack-ai-transport", () => {
    it("delivers a snapshot, then live chunks; a resumed subscription continues from its offset with each chunk once", async () => {
      const chunks = tanstackChunks(20);
      const model = fakeModel(chunks);
      const streamUrl = server.streamUrl("tanstack-chat");
      const writers: Promise<unknown>[] = [];
      const app = async (_input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
        const { messages } = JSON.parse(String(init!.body)) as { messages: { id: string; role: string; parts: { type: string; content: string }[] }[] };
        return toDurableChatSessionResponse({
          stream: { writeUrl: streamUrl },
          newMessages: messages,
          responseStream: model.source,
          waitUntil: (p) => writers.push(p),
        });
      };
      const connection = durableStreamConnection({ sendUrl: API, readUrl: streamUrl, fetchClient: app as typeof fetch });
      await connection.send([{ id: "u1", role: "user", parts: [{ type: "text", content: "hello" }] }]);

      const interrupted = new AbortController();
      const first = connection.subscribe(interrupted.signal)[Symbol.asyncIterator]();
      const snapshot = (await first.next()).value as { type: string; messages: { id: string; role: string; parts: { content: string }[] }[] };
      expect(snapshot.type).toBe("MESSAGES_SNAPSHOT");
      expect(snapshot.messages).toMatchObject([{ id: "u1", role: "user", parts: [{ type: "text", content: "hello" }] }]);

      const received: unknown[] = [];
      for (let i = 0; i < 8; i++) {
        model.release(); // one chunk at a time, so each arrives as its own live batch
        received.push((await first.next()).value);
      }
      expect(received).toEqual(chunks.slice(0, 8));
      interrupted.abort();
      void first.return?.(undefined);

      model.release(5);
      await eventually(async () => (await (await fetch(`${streamUrl}?offset=-1`)).json()).length >= 3 + 13, 10_000, "chunks written while away");
      const done = new AbortController();
      const resumed = connection.subscribe(done.signal)[Symbol.asyncIterator]();
      model.release(chunks.length);
      // A chat session stream stays open for the next turn: read what the reply has left.
      while (received.length < chunks.length) {
        const { value, done } = await resumed.next();
        if (done) break;
        received.push(value);
      }
      await Promise.all(writers);
      expect(received).toEqual(chunks);
      // Nothing more (no chunk twice): the stream holds the echo and the reply, exactly.
      const stored = (await (await fetch(`${streamUrl}?offset=-1`)).json()) as unknown[];
      expect(stored).toHaveLength(3 + chunks.length);
      done.abort();
      void resumed.return?.(undefined);
    });
  });
});
