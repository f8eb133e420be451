import {
  formatOffset,
  formatSseEvent,
  framedToJsonArray,
  HEADER,
  isJsonContentType,
  isTextContentType,
  SSE_EVENT,
} from "@rill/protocol";
import type { StreamState } from "../domain/model.js";
import { cacheControl } from "./cache-policy.js";
import type { Headers } from "./respond.js";

/**
 * How stored bytes become what a reader receives. Kept in one place so that
 * catch-up, long-poll and SSE agree byte for byte.
 */
export function responseBody(stream: StreamState, data: Uint8Array): Uint8Array {
  return isJsonContentType(stream.contentType) ? framedToJsonArray(data) : data;
}

export interface ReadPosition {
  next: number;
  upToDate: boolean;
}

/** Headers of a 200/204 read response. `Stream-Closed` only once a reader has everything. */
export function readHeaders(stream: StreamState, read: ReadPosition, cursor: string | null): Headers {
  const headers: Headers = {
    [HEADER.contentType]: stream.contentType,
    [HEADER.streamNextOffset]: formatOffset(read.next),
  };
  if (read.upToDate) {
    headers[HEADER.streamUpToDate] = "true";
    if (stream.closed) headers[HEADER.streamClosed] = "true";
  }
  if (cursor !== null) headers[HEADER.streamCursor] = cursor;
  return headers;
}

/** Entity tag: which stream, which range, and whether the stream had closed. */
export function etagFor(path: string, from: number, read: ReadPosition, closed: boolean): string {
  const id = Buffer.from(path).toString("base64url");
  return `"${id}:${formatOffset(from)}:${formatOffset(read.next)}${closed && read.upToDate ? ":c" : ""}"`;
}

/** SSE payload of one data event: JSON as an array, text as text, anything else base64. */
export function sseDataEvent(stream: StreamState, data: Uint8Array): string {
  let payload: string;
  if (isJsonContentType(stream.contentType)) payload = Buffer.from(framedToJsonArray(data)).toString("utf8");
  else if (isTextContentType(stream.contentType)) payload = Buffer.from(data.buffer, data.byteOffset, data.length).toString("utf8");
  else payload = Buffer.from(data.buffer, data.byteOffset, data.length).toString("base64");
  return formatSseEvent(SSE_EVENT.data, payload);
}

/**
 * The control event that follows every data event. `upToDate` and
 * `streamClosed` appear only when true; a closed stream's final control
 * carries no cursor, since there is nothing left to poll for.
 */
export function sseControlEvent(next: number, upToDate: boolean, closed: boolean, cursor: string): string {
  const control: Record<string, unknown> = { streamNextOffset: formatOffset(next) };
  if (closed && upToDate) {
    control.upToDate = true;
    control.streamClosed = true;
  } else {
    control.streamCursor = cursor;
    if (upToDate) control.upToDate = true;
  }
  return formatSseEvent(SSE_EVENT.control, JSON.stringify(control));
}

export function sseHeaders(stream: StreamState): Headers {
  const headers: Headers = {
    [HEADER.contentType]: "text/event-stream",
    [HEADER.cacheControl]: cacheControl("sse"),
    "x-accel-buffering": "no",
  };
  if (!isTextContentType(stream.contentType)) headers[HEADER.streamSseDataEncoding] = "base64";
  return headers;
}
