/**
 * Drop-in compatibility with @durable-streams/client: every runtime export of
 * the official package exists here, and code written in its documented style
 * type-checks against this package.
 */
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import * as ours from "../src/index.js";

/** Official exports deliberately left out. */
const NOT_PROVIDED = new Set(["_resetHttpWarningForTesting"]);

describe("compatibility with @durable-streams/client", () => {
  it("provides every runtime export", async () => {
    const official = await import("@durable-streams/client");
    const missing = Object.keys(official).filter((name) => !NOT_PROVIDED.has(name) && !(name in ours));
    expect(missing).toEqual([]);
  });

  it("type-checks code written against the documented API", () => {
    const file = fileURLToPath(new URL("./compat/official-usage.ts", import.meta.url));
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ["lib.es2023.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts", "lib.dom.asynciterable.d.ts"],
      types: [],
      skipLibCheck: true,
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    expect(diagnostics).toEqual([]);
  }, 60_000);
});
