import { formatOffset } from "@rill/protocol";
import { describe, expect, it } from "vitest";
import { ProtocolError } from "../domain/errors.js";
import { hasPending, planAcks } from "./cursors.js";
import type { LinkRecord } from "./model.js";
import { errorStatus } from "../http/error-statuses.js";

const link = (path: string, ackedOffset: string): LinkRecord => ({ subscriptionId: "s", path, explicit: false, glob: true, ackedOffset });

describe("cursors", () => {
  it("counts bytes past the cursor as pending", () => {
    expect(hasPending(link("a", "-1"), 0)).toBe(false);
    expect(hasPending(link("a", "-1"), 5)).toBe(true);
    expect(hasPending(link("a", formatOffset(5)), 5)).toBe(false);
    expect(hasPending(link("a", formatOffset(5)), 6)).toBe(true);
    expect(hasPending(link("a", "-1"), null)).toBe(false);
  });

  it("plans acks all-or-nothing and skips streams of the wake deleted since", () => {
    const links = new Map([["a", link("a", formatOffset(10))]]);
    const tails = new Map<string, number | null>([["a", 20], ["gone", null]]);
    const wake = [{ path: "gone", tail: formatOffset(3) }];
    expect(planAcks([{ path: "a", offset: formatOffset(15) }, { path: "gone", offset: formatOffset(3) }], links, tails, wake)).toEqual(
      new Map([["a", formatOffset(15)]]),
    );
    const code = (offset: string, path = "a") => {
      try {
        planAcks([{ path, offset }], links, tails, wake);
        return "ok";
      } catch (error) {
        return `${errorStatus((error as ProtocolError))} ${(error as ProtocolError).code}`;
      }
    };
    expect(code(formatOffset(10))).toBe("ok");
    expect(code(formatOffset(9))).toBe("409 INVALID_OFFSET");
    expect(code(formatOffset(21))).toBe("409 INVALID_OFFSET");
    expect(code("-1")).toBe("409 INVALID_OFFSET");
    expect(code("12")).toBe("409 INVALID_OFFSET");
    expect(code(formatOffset(1), "other")).toBe("409 INVALID_OFFSET");
  });
});
