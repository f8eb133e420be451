import { describe, expect, it } from "vitest";
import { ERROR_CODES, isErrorCode, parseErrorBody } from "./errors.js";

describe("error bodies", () => {
  it("reads Rill's error object with its details", () => {
    const body = JSON.stringify({ error: { code: "ALREADY_CLAIMED", message: "held", current_holder: "w1" } });
    expect(parseErrorBody(body)).toEqual({ code: "ALREADY_CLAIMED", message: "held", current_holder: "w1" });
  });

  it("keeps a code it does not know and tolerates a missing message", () => {
    expect(parseErrorBody('{"error":{"code":"FROM_THE_FUTURE"}}')).toEqual({ code: "FROM_THE_FUTURE", message: "" });
  });

  it("answers undefined for bodies in other shapes", () => {
    for (const text of ["", "plain text", "<html></html>", "{broken", '{"code":"X"}', '{"error":"text"}', '{"error":{"code":5}}', "null"]) {
      expect(parseErrorBody(text), text).toBeUndefined();
    }
  });

  it("recognises exactly the listed codes", () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    expect(ERROR_CODES.every(isErrorCode)).toBe(true);
    expect(isErrorCode("STREAM_CLOSED")).toBe(true);
    expect(isErrorCode("stream_closed")).toBe(false);
    expect(isErrorCode(undefined)).toBe(false);
  });
});
