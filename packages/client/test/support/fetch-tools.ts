/** Fetch doubles for the integration tests: recorders, gates and fault injectors. */

export interface Recorded {
  method: string;
  url: URL;
  headers: Headers;
  body?: string;
}

type Fetch = typeof globalThis.fetch;

/** Wraps a fetch and records every request (method, URL, headers, string bodies). */
export function recording(inner: Fetch = globalThis.fetch) {
  const requests: Recorded[] = [];
  const fetch: Fetch = async (input, init) => {
    const body = typeof init?.body === "string" ? init.body : init?.body instanceof Uint8Array ? new TextDecoder().decode(init.body) : undefined;
    requests.push({ method: (init?.method ?? "GET").toUpperCase(), url: new URL(String(input)), headers: new Headers(init?.headers), body });
    return inner(input, init);
  };
  return { fetch, requests };
}

/** A promise with its resolve function exposed. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Polls until `check` is true (for waiting on background work, never for timing claims). */
export async function until(check: () => boolean, what = "condition", timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A response whose body is cut after `limit` bytes, as a dropped connection would. */
export function truncate(response: Response, limit: number, mode: "error" | "end"): Response {
  const reader = response.body!.getReader();
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        controller.close();
        return;
      }
      const room = limit - sent;
      if (value.length < room) {
        sent += value.length;
        controller.enqueue(value);
        return;
      }
      if (room > 0) controller.enqueue(value.slice(0, room));
      sent = limit;
      await reader.cancel();
      if (mode === "error") controller.error(new TypeError("terminated: connection reset"));
      else controller.close();
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** Deterministic pseudo-random numbers (mulberry32). */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
