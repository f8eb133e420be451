/**
 * The raw text of an SSE response, read until the control event that reports
 * `nextOffset` (or until the server ends it), then the connection is dropped.
 */
export async function sseTextUntil(url: string, nextOffset: string): Promise<string> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  try {
    while (!seen.includes(`"streamNextOffset":"${nextOffset}"`)) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += decoder.decode(value, { stream: true });
    }
  } finally {
    controller.abort();
  }
  return seen;
}
