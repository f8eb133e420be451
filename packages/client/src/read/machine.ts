/**
 * The catch-up / live state machine of a read session, kept pure: it only
 * says which request comes next and how a response moves the position.
 * The I/O lives in session.ts.
 *
 *                 start (offset = -1 | now | saved)
 *                              │
 *                              ▼
 *            ┌──────────► CATCH-UP ─── GET ?offset=O ──┐
 *            │                ▲                        │
 *            │                └──── not up to date ────┤
 *            │                                         │ up to date
 *            │                                         ▼
 *            │                 closed? ─────── yes ──► DONE (EOF)
 *            │                    │ no                  ▲
 *            │                    ▼                     │ yes
 *            │     live = false, or a promise helper? ──┘
 *            │                    │ no
 *            │                    ▼
 *            │        LIVE: long-poll  GET ?offset=O&live=long-poll&cursor=C
 *            │              (200 data / 204 timeout, stays LIVE)
 *            │           or sse        GET ?offset=O&live=sse&cursor=C
 *            │              (data… control… on one connection)
 *            │                    │
 *            ├── response not up to date (e.g. a burst of data) ──┘
 *            └── SSE connection ended (server recycling, network): back to
 *                CATCH-UP from the last control event's offset
 *
 * Every response (or SSE control event) carries the next offset, cursor,
 * up-to-date and closed flags; `advance` folds them into the state. Data is
 * only committed together with the offset that follows it, so a reconnect
 * from `state.offset` neither skips nor repeats anything.
 */
import type { LiveMode, Offset } from "../types.js";

export interface ReadState {
  offset: Offset;
  cursor?: string;
  upToDate: boolean;
  streamClosed: boolean;
}

export type LiveTransport = "long-poll" | "sse";

export type Step = "catch-up" | LiveTransport | "done";

/** What a response (or SSE control event) says about the position. */
export interface PositionReport {
  offset?: Offset;
  cursor?: string;
  upToDate: boolean;
  streamClosed: boolean;
}

export function initialState(offset: Offset): ReadState {
  return { offset, upToDate: false, streamClosed: false };
}

/** The transport used once caught up, or null when the read stops there. */
export function liveTransport(mode: LiveMode): LiveTransport | null {
  if (mode === false) return null;
  if (mode === "sse") return "sse";
  return "long-poll";
}

export function nextStep(state: ReadState, transport: LiveTransport | null, stopAtUpToDate: boolean): Step {
  if (state.streamClosed) return "done";
  if (!state.upToDate) return "catch-up";
  if (transport === null || stopAtUpToDate) return "done";
  return transport;
}

export function advance(state: ReadState, report: PositionReport): ReadState {
  return {
    offset: report.offset ?? state.offset,
    cursor: report.cursor ?? state.cursor,
    upToDate: report.upToDate || report.streamClosed,
    streamClosed: report.streamClosed,
  };
}

/**
 * After an SSE connection ends the read catches up with a plain GET before
 * reconnecting, so whatever piled up arrives in one response.
 */
export function connectionEnded(state: ReadState): ReadState {
  return { ...state, upToDate: false };
}

/**
 * Whether a response is worth handing to the consumer: it has data, or it
 * is the moment the read catches up, or the stream ended. `delivered` is the
 * position of the last batch handed out. Quiet long-poll timeouts (and the
 * catch-up after an SSE reconnect) are not delivered.
 */
export function worthDelivering(delivered: ReadState, after: ReadState, hasData: boolean): boolean {
  return hasData || after.streamClosed || (after.upToDate && !delivered.upToDate);
}
