import { expect } from "vitest";
import type { AppendCommand } from "../domain/commands.js";
import { ProtocolError } from "../domain/errors.js";
import { registry } from "../metrics/registry.js";
import type { RangeRead } from "./batches.js";
import type { ResolvedCreateCommand } from "../domain/commands.js";
import type { Store } from "./store.js";
import { errorStatus } from "../http/error-statuses.js";

/**
 * Helpers for the storage tests: request builders with every field defaulted,
 * and readers that give a stream's bytes back as text. (Test support only:
 * excluded from the build by its name.)
 */

export const T0 = 1_700_000_000_000;
export const SECOND = 1000;
/** A maxBytes that never limits a read. */
export const BIG = 1 << 30;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const bytes = (text: string): Uint8Array => encoder.encode(text);
/** The text of bytes, or of what a read returned. */
export const text = (data: Uint8Array | RangeRead): string => decoder.decode(data instanceof Uint8Array ? data : data.data);

export function createCommand(path: string, fields: Partial<ResolvedCreateCommand> = {}): ResolvedCreateCommand {
  return {
    path,
    contentType: "application/octet-stream",
    ttlSeconds: null,
    expiresAt: null,
    closed: false,
    data: new Uint8Array(0),
    fork: null,
    retention: null,
    compaction: null,
    ...fields,
  };
}

export function appendCommand(path: string, data: string, fields: Partial<AppendCommand> = {}): AppendCommand {
  return { path, contentType: null, data: bytes(data), streamSeq: null, producer: null, close: false, ...fields };
}

export function fork(source: string, position: number): ResolvedCreateCommand["fork"] {
  return { source, position, explicit: true };
}

export function producer(id: string, epoch: number, seq: number): AppendCommand["producer"] {
  return { id, epoch, seq };
}

/** Everything the stream itself stores, from `from` to its tail, as text ("" when it is absent). */
export async function contents(store: Store, path: string, from = 0): Promise<string> {
  const stream = await store.getStream(path);
  if (!stream) return "";
  return text(await store.readRange(path, from, stream.tail, BIG, true));
}

/** Awaits a rejection and checks it is the protocol error a client would get. */
export async function refused(promise: Promise<unknown>, status: number, code: string): Promise<ProtocolError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a ${status} ${code} refusal`).toBeInstanceOf(ProtocolError);
  const error = caught as ProtocolError;
  expect({ status: errorStatus(error), code: error.code }).toEqual({ status, code });
  return error;
}

/**
 * One sample of the process's metrics registry, as a scrape of /metrics
 * would show it (`rill_commit_round_requests_count` with `{ store: "sqlite" }`).
 * Metrics are process-wide, so a test compares two readings.
 */
export async function metricValue(metric: string, sample: string = metric, labels: Record<string, string> = {}): Promise<number> {
  const family = registry.getSingleMetric(metric);
  if (!family) throw new Error(`${metric} is not registered`);
  const { values } = await family.get();
  // Histograms name each sample (…_bucket, …_sum, …_count); counters and gauges do not.
  const nameOf = (value: (typeof values)[number]) => ("metricName" in value ? String(value.metricName) : metric);
  const found = values.find(
    (value) => nameOf(value) === sample && Object.entries(labels).every(([name, wanted]) => String(value.labels[name]) === wanted),
  );
  return found?.value ?? 0;
}

/** Commit rounds run so far by the process's stores of one kind (the rill_commit_round_requests histogram's count). */
export function commitRounds(store: "sqlite" | "postgres"): Promise<number> {
  return metricValue("rill_commit_round_requests", "rill_commit_round_requests_count", { store });
}
