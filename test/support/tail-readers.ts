/**
 * Readers that tail one stream through several servers, as a client behind a
 * load balancer would: each moves to the next server whenever its server
 * fails, resuming from the last offset it was given, until the stream is
 * closed. They return exactly the bytes they saw, for comparison with the
 * stream's content. Used by the multi-server and PostgreSQL fault tests.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface TailTarget {
  /** The stream's URL on each server, e.g. http://127.0.0.1:4001/v1/stream/x. */
  urls: readonly string[];
  /** True once the writers are done (a reader failing then has no server left to wait for). */
  done(): boolean;
  /** True while some server is running. */
  anyUp(): boolean;
}

/** Tails the stream over long-poll, moving to the next server whenever one fails. */
export async function longPollReader(target: TailTarget, first: number): Promise<string> {
  let content = "";
  let offset = "-1";
  let at = first;
  for (;;) {
    let res: Response;
    let body: string;
    try {
      res = await fetch(`${target.urls[at]}?offset=${offset}&live=long-poll`);
      body = await res.text();
    } catch {
      if (target.done() && !target.anyUp()) throw new Error("long-poll reader: servers gone before the stream closed");
      at = (at + 1) % target.urls.length;
      await sleep(50);
      continue;
    }
    if (res.status === 503 && res.headers.has("retry-after")) {
      // The database is unavailable: the server says when to come back.
      await sleep(Math.min(2_000, Number(res.headers.get("retry-after")) * 1000 || 500));
      continue;
    }
    if (res.status !== 200 && res.status !== 204) throw new Error(`long-poll reader: HTTP ${res.status} ${body}`);
    content += body;
    offset = res.headers.get("stream-next-offset") ?? offset;
    if (res.headers.get("stream-closed") === "true" && res.headers.get("stream-up-to-date") === "true") return content;
  }
}

/** Tails the stream over SSE, reconnecting (to the next server) from the last control offset. */
export async function sseReader(target: TailTarget, first: number): Promise<string> {
  let content = "";
  let offset = "-1";
  let at = first;
  for (;;) {
    let pending = "";
    try {
      const res = await fetch(`${target.urls[at]}?offset=${offset}&live=sse`);
      if (res.status === 503 && res.headers.has("retry-after")) {
        await res.arrayBuffer();
        await sleep(Math.min(2_000, Number(res.headers.get("retry-after")) * 1000 || 500));
        continue;
      }
      if (res.status !== 200) throw new Error(`sse reader: HTTP ${res.status} ${await res.text()}`);
      const decoder = new TextDecoder();
      let buffer = "";
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = "";
          const data: string[] = [];
          for (const line of frame.split("\n")) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5));
          }
          if (event === "data") pending += data.join("\n");
          if (event === "control") {
            // Data counts once its control event (with the offset after it) arrived.
            const control = JSON.parse(data.join("\n")) as { streamNextOffset: string; upToDate?: boolean; streamClosed?: boolean };
            content += pending;
            pending = "";
            offset = control.streamNextOffset;
            if (control.streamClosed) return content;
          }
        }
      }
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("sse reader:")) throw error;
    }
    // The connection ended (recycled, or the server died): resume from the last offset.
    if (target.done() && !target.anyUp()) throw new Error("sse reader: servers gone before the stream closed");
    at = (at + 1) % target.urls.length;
    await sleep(50);
  }
}


/** The whole stream by catch-up reads (following Stream-Next-Offset until up to date); throws on any other answer than 200. */
export async function readWhole(url: string): Promise<string> {
  let content = "";
  let offset = "-1";
  for (;;) {
    const res = await fetch(`${url}?offset=${offset}`);
    if (res.status !== 200) throw new Error(`catch-up read of ${url}: HTTP ${res.status} ${await res.text()}`);
    content += await res.text();
    offset = res.headers.get("stream-next-offset")!;
    if (res.headers.get("stream-up-to-date") === "true") return content;
  }
}
