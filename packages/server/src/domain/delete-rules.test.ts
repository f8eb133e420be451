import { describe, expect, it } from "vitest";
import { planDelete } from "./delete-rules.js";
import type { StreamState } from "./model.js";
import { streamState } from "./test-fixtures.js";

function lookup(...streams: StreamState[]) {
  const byPath = new Map(streams.map((s) => [s.path, s]));
  return (path: string) => byPath.get(path);
}

describe("delete rules", () => {
  it("removes a stream nobody forked", () => {
    expect(planDelete("a", lookup(streamState({ path: "a" })))).toEqual({ soft: false, remove: ["a"], update: [] });
  });

  it("only hides a stream that forks still read through", () => {
    const plan = planDelete("a", lookup(streamState({ path: "a", forkCount: 2 })));
    expect(plan.soft).toBe(true);
    expect(plan.remove).toEqual([]);
    expect(plan.update).toMatchObject([{ path: "a", softDeleted: true, forkCount: 2 }]);
  });

  it("releases the source's reference when a fork goes", () => {
    const plan = planDelete(
      "fork",
      lookup(streamState({ path: "src", forkCount: 2 }), streamState({ path: "fork", forkedFrom: "src" })),
    );
    expect(plan.remove).toEqual(["fork"]);
    expect(plan.update).toMatchObject([{ path: "src", forkCount: 1, softDeleted: false }]);
  });

  it("cascades up a chain of deleted sources when their last fork goes", () => {
    const plan = planDelete(
      "l2",
      lookup(
        streamState({ path: "l0", forkCount: 1, softDeleted: true }),
        streamState({ path: "l1", forkCount: 1, softDeleted: true, forkedFrom: "l0" }),
        streamState({ path: "l2", forkedFrom: "l1" }),
      ),
    );
    expect(plan.remove).toEqual(["l2", "l1", "l0"]);
    expect(plan.update).toEqual([]);
  });

  it("stops the cascade at a live source", () => {
    const plan = planDelete(
      "l2",
      lookup(
        streamState({ path: "l0", forkCount: 1 }),
        streamState({ path: "l1", forkCount: 1, softDeleted: true, forkedFrom: "l0" }),
        streamState({ path: "l2", forkedFrom: "l1" }),
      ),
    );
    expect(plan.remove).toEqual(["l2", "l1"]);
    expect(plan.update).toMatchObject([{ path: "l0", forkCount: 0 }]);
  });
});
