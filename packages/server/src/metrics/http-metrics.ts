import { counter, histogram, sampledGauge, SECONDS_BUCKETS } from "./registry.js";

/** What a request was, for the `route` label: a bounded set, never a stream path. */
export type RouteKind =
  | "catch-up"
  | "long-poll"
  | "sse"
  | "append"
  | "create"
  | "delete"
  | "head"
  | "subscription"
  | "control"
  | "preflight"
  | "other";

export const httpRequests = counter({
  name: "rill_http_requests_total",
  help: "HTTP requests answered, by method, route kind and status class (2xx, 4xx, …; 'aborted' when the client left before an answer)",
  labelNames: ["method", "route", "status_class"],
});

export const httpRequestDuration = histogram({
  name: "rill_http_request_duration_seconds",
  help: "Time from request to the end of the response, by route kind (for sse and long-poll: how long the reader stayed)",
  labelNames: ["route"],
  buckets: SECONDS_BUCKETS,
});

export const openConnections = sampledGauge({
  name: "rill_http_open_connections",
  help: "TCP connections open to the HTTP server",
});

export const liveReaders = sampledGauge({
  name: "rill_live_readers",
  help: "Readers waiting for new data, by mode (sse, long-poll)",
  labelNames: ["mode"],
});

export const readBytes = counter({
  name: "rill_read_bytes_total",
  help: "Response body bytes served by reads, by mode (catch-up, long-poll)",
  labelNames: ["mode"],
});

export const sseFrames = counter({
  name: "rill_sse_frames_total",
  help: "Writes of SSE events to readers' connections (a data+control pair, a control event or a keep-alive comment)",
});

export const sseBytes = counter({
  name: "rill_sse_bytes_total",
  help: "Bytes of SSE events written to readers' connections",
});

export const httpErrors = counter({
  name: "rill_http_errors_total",
  help: "Error answers by their code (Rill's JSON error format: not_found, insufficient_scope, too_many_readers, commit_queue_full, …)",
  labelNames: ["code"],
});

export const connectionsRefused = counter({
  name: "rill_connections_refused_total",
  help: "Connections refused at the connection limit, by which limit: total (503) or per_address (429)",
  labelNames: ["limit"],
});

export const sseReadersPaused = counter({
  name: "rill_sse_readers_paused_total",
  help: "Times an SSE reader fell behind: more than the pending-output bound waited on its connection, so it was pushed nothing more until it drained",
});

export const sseReadersDropped = counter({
  name: "rill_sse_readers_dropped_total",
  help: "SSE readers disconnected because they were still behind their backlog when the connection was recycled or their token expired",
});
