import { afterEach, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "@rill/server";
import { call, waitFor } from "./helpers.js";

// Webhook URLs must not turn the server into a proxy into its own network.

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const webhook = (url: string) => ({ type: "webhook", pattern: "a/*", webhook: { url } });

describe("SSRF protection", () => {
  it("rejects unsafe webhook URLs with 400 WEBHOOK_URL_REJECTED", async () => {
    server = await startServer({ port: 0, memory: true });
    const sub = `${server.streamsUrl}/__ds/subscriptions/s`;
    for (const url of ["http://10.0.0.1/hook", "https://169.254.169.254/latest", "https://[::1]/h", "https://192.168.0.10/h", "gopher://example.com/"]) {
      const res = await call(sub, "PUT", webhook(url));
      expect(res.status, url).toBe(400);
      expect(res.body.error.code).toBe("WEBHOOK_URL_REJECTED");
    }
    expect((await call(sub, "GET")).status).toBe(404);
    expect((await call(sub, "PUT", webhook("http://127.0.0.1:9/h"))).status).toBe(201);
  });

  it("can turn the localhost development exception off", async () => {
    server = await startServer({ port: 0, memory: true, subscriptions: { allowLocalhostWebhooks: false } });
    const res = await call(`${server.streamsUrl}/__ds/subscriptions/s`, "PUT", webhook("http://127.0.0.1:9/h"));
    expect(res.body.error.code).toBe("WEBHOOK_URL_REJECTED");
  });

  it("re-resolves the host at delivery and refuses a name that now points inside", async () => {
    const warnings: string[] = [];
    const lookups: string[] = [];
    server = await startServer({
      port: 0,
      memory: true,
      subscriptions: {
        warn: (message) => warnings.push(message),
        // A name that looked public when the subscription was made, and resolves to the metadata service now.
        resolver: async (host) => {
          lookups.push(host);
          return [{ address: "169.254.169.254", family: 4 }];
        },
      },
    });
    const base = server.streamsUrl;
    const sub = `${base}/__ds/subscriptions/rebind`;
    expect((await call(sub, "PUT", webhook("https://hooks.example.com/h"))).status).toBe(201);
    await fetch(`${base}/a/1`, { method: "PUT", headers: { "content-type": "text/plain" }, body: "x" });
    await waitFor(async () => (await call(sub, "GET")).body.status === "failed");
    expect(lookups).toEqual(["hooks.example.com"]);
    expect(warnings.join("\n")).toContain("169.254.169.254, which webhooks may not reach");
  });
});
