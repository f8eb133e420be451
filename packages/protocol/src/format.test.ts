import { describe, expect, it } from "vitest";
import { formatBytes } from "./format.js";

describe("formatBytes", () => {
  it("shows bytes below 1 KiB as they are", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
  });

  it("uses binary units with one decimal below 10", () => {
    expect(formatBytes(1024)).toBe("1.0 KiB");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(10 * 1024)).toBe("10 KiB");
    expect(formatBytes(1023 * 1024)).toBe("1023 KiB");
    expect(formatBytes(5 * 1024 ** 2)).toBe("5.0 MiB");
    expect(formatBytes(300 * 1024 ** 3)).toBe("300 GiB");
  });

  it("stops at TiB", () => {
    expect(formatBytes(2048 * 1024 ** 4)).toBe("2048 TiB");
  });
});
