import { describe, expect, it } from "vitest";
import type { ResolvedCreateCommand } from "./commands.js";
import { decideCreate } from "./create-rules.js";
import { statusOf, streamState } from "./test-fixtures.js";

function command(overrides: Partial<ResolvedCreateCommand> = {}): ResolvedCreateCommand {
  return { path: "s", contentType: "text/plain", ttlSeconds: null, expiresAt: null, closed: false, data: new Uint8Array(0), fork: null, retention: null, compaction: null, ...overrides };
}


describe("create rules", () => {
  it("creates with the default content type when none is given", () => {
    const decision = decideCreate(undefined, undefined, command({ contentType: null }), 5);
    expect(decision).toMatchObject({ kind: "create", stream: { contentType: "application/octet-stream", createdAt: 5 } });
  });

  it("confirms an identical stream and rejects a different configuration", () => {
    const existing = streamState({ contentType: "application/json", ttlSeconds: 3600, lastAccessAt: 0 });
    expect(decideCreate(existing, undefined, command({ contentType: "APPLICATION/JSON", ttlSeconds: 3600 }), 1).kind).toBe("exists");
    expect(statusOf(() => decideCreate(existing, undefined, command({ contentType: "application/json", ttlSeconds: 7200 }), 1))).toBe(409);
    expect(statusOf(() => decideCreate(existing, undefined, command({ contentType: "text/plain", ttlSeconds: 3600 }), 1))).toBe(409);
  });

  it("treats an expired stream as absent", () => {
    const expired = streamState({ ttlSeconds: 1, lastAccessAt: 0 });
    expect(decideCreate(expired, undefined, command({ contentType: "application/json" }), 5_000).kind).toBe("create");
  });

  it("forks inherit the source's content type and expiry and share its offsets", () => {
    const source = streamState({ path: "src", contentType: "application/json", ttlSeconds: 60, tail: 40 });
    const decision = decideCreate(undefined, source, command({ contentType: null, fork: { source: "src", position: 30, explicit: true } }), 0);
    expect(decision).toMatchObject({
      kind: "create",
      stream: { contentType: "application/json", ttlSeconds: 60, forkedFrom: "src", forkOffset: 30, tail: 30, closed: false },
    });
  });

  it("rejects forks of missing, deleted or mismatched sources and offsets past the tail", () => {
    const fork = { source: "src", position: 0, explicit: true };
    expect(statusOf(() => decideCreate(undefined, undefined, command({ fork }), 0))).toBe(404);
    expect(statusOf(() => decideCreate(undefined, streamState({ path: "src", softDeleted: true }), command({ fork }), 0))).toBe(409);
    expect(statusOf(() => decideCreate(undefined, streamState({ path: "src", contentType: "application/json" }), command({ fork }), 0))).toBe(409);
    expect(statusOf(() => decideCreate(undefined, streamState({ path: "src", tail: 3 }), command({ fork: { ...fork, position: 4 } }), 0))).toBe(400);
  });

  it("refuses to re-create over a deleted stream that forks still use", () => {
    expect(statusOf(() => decideCreate(streamState({ softDeleted: true }), undefined, command(), 0))).toBe(409);
  });
});
