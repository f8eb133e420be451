import { FetchError, stream } from "@rill/client";
import { startServer, type RunningServer } from "@rill/server";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { bearer, hs256, SECRET } from "../support/tokens.js";

// The documented refresh pattern against a server that ends live reads at
// token expiry: the client reconnects, is told 401, refreshes, and reads on
// from its offset without losing or repeating a byte.

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ port: 0, memory: true, access: { jwtSecret: SECRET } });
});
afterAll(async () => {
  await server?.close();
});

it.each(["sse", "long-poll"] as const)("keeps a %s read going across token expiries", async (live) => {
  const url = `${server.streamsUrl}/refresh-${live}`;
  const writer = bearer(await hs256({ scope: "write:**" }));
  const append = async (text: string) => {
    const res = await fetch(url, { method: "POST", headers: { ...writer, "content-type": "text/plain" }, body: text });
    expect(res.status).toBe(204);
  };
  expect((await fetch(url, { method: "PUT", headers: { ...writer, "content-type": "text/plain" }, body: "a" })).status).toBe(201);

  // Each token lives two to three seconds; the read must outlast at least one of them.
  const mint = () => hs256({ scope: `read:refresh-${live}`, exp: Math.floor(Date.now() / 1000) + 3 });
  const warn = vi.spyOn(console, "warn");
  let token = await mint();
  let refreshes = 0;
  const res = await stream({
    url,
    live,
    headers: { Authorization: () => `Bearer ${token}` },
    onError: async (error) => {
      if (error instanceof FetchError && error.status === 401) {
        refreshes++;
        token = await mint();
        return {};
      }
      return undefined;
    },
  });
  let text = "";
  const reading = (async () => {
    for await (const chunk of res.textStream()) {
      text += chunk;
      if (text.endsWith("z")) return;
    }
  })();
  for (const piece of ["b", "c", "d", "e", "z"]) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await append(piece);
  }
  await reading;
  expect(text).toBe("abcdez");
  expect(refreshes).toBeGreaterThanOrEqual(1);
  // An SSE read stays on SSE: connections ended by expiry are not mistaken for a buffering proxy.
  expect(warn).not.toHaveBeenCalled();
  warn.mockRestore();
}, 20_000);
