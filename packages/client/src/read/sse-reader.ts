/**
 * Reads one SSE connection into batches. Data events are held until the
 * control event that follows them, and only then delivered together with
 * its offset: if the connection drops in between, the held data is dropped
 * and re-read from the last committed offset on reconnect.
 */
import { SSE_EVENT, type SseControl } from "@rill/protocol";
import { decodeBase64 } from "../body.js";
import { DurableStreamError } from "../errors.js";
import { SseParser, type SseEvent } from "../sse-parser.js";
import { Payload } from "./batch.js";
import type { PositionReport } from "./machine.js";

export type SseRead =
  | { kind: "batch"; payload: Payload; report: PositionReport }
  | { kind: "end"; error?: unknown };

export class SseBatchReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #parser = new SseParser();
  readonly #queue: SseEvent[] = [];
  readonly #base64: boolean;
  readonly #json: boolean;
  #held: Payload[] = [];
  #ended = false;

  constructor(body: ReadableStream<Uint8Array>, options: { base64: boolean; json: boolean }) {
    this.#reader = body.getReader();
    this.#base64 = options.base64;
    this.#json = options.json;
  }

  /** The next committed batch, or the end of the connection. */
  async next(): Promise<SseRead> {
    for (;;) {
      const event = this.#queue.shift();
      if (event) {
        const read = this.#handle(event);
        if (read) return read;
        continue;
      }
      if (this.#ended) return { kind: "end" };
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await this.#reader.read();
      } catch (error) {
        this.#ended = true;
        return { kind: "end", error };
      }
      if (chunk.done) {
        this.#ended = true;
        this.#queue.push(...this.#parser.end());
      } else {
        this.#queue.push(...this.#parser.push(chunk.value));
      }
    }
  }

  /** Abandons the connection. */
  cancel(reason?: unknown): void {
    this.#ended = true;
    this.#reader.cancel(reason).catch(() => undefined);
  }

  #handle(event: SseEvent): SseRead | undefined {
    if (event.type === SSE_EVENT.data) {
      this.#held.push(this.#base64 ? Payload.ofBytes(decodeBase64(event.data)) : Payload.ofText(event.data));
      return undefined;
    }
    if (event.type !== SSE_EVENT.control) return undefined;
    const control = parseControl(event.data);
    const payload = Payload.join(this.#held, this.#json);
    this.#held = [];
    const report: PositionReport = {
      offset: control.streamNextOffset,
      cursor: control.streamCursor,
      upToDate: control.upToDate === true,
      streamClosed: control.streamClosed === true,
    };
    return { kind: "batch", payload, report };
  }
}

function parseControl(data: string): SseControl {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    throw new DurableStreamError(`Invalid SSE control event: ${data.slice(0, 120)}`, "PARSE_ERROR");
  }
  const control = value as Partial<SseControl> | null;
  if (!control || typeof control.streamNextOffset !== "string") {
    throw new DurableStreamError(`SSE control event without streamNextOffset: ${data.slice(0, 120)}`, "PARSE_ERROR");
  }
  return control as SseControl;
}
