import { afterAll, expect, it } from "vitest";
import { startServer, type RunningServer } from "@rill/server";
import { AUDIENCE, bearer, hs256, ISSUER, SECRET } from "../support/tokens.js";

// With access control on, /metrics is for the admin scope; health stays open for probes.

let server: RunningServer | undefined;
afterAll(() => server?.close());

it("answers /metrics only to an admin token, while /healthz and /readyz stay open", async () => {
  server = await startServer({ memory: true, port: 0, access: { jwtSecret: SECRET, audience: AUDIENCE, issuer: ISSUER } });
  const metrics = (headers: Record<string, string> = {}) => fetch(`${server!.url}/metrics`, { headers });

  const anonymous = await metrics();
  expect(anonymous.status).toBe(401);
  expect(anonymous.headers.get("www-authenticate")).toBe('Bearer realm="rill"');
  const writer = await metrics(bearer(await hs256({ scope: "write:**" })));
  expect(writer.status).toBe(403);
  expect(((await writer.json()) as { error: { code: string; message: string } }).error).toMatchObject({
    code: "INSUFFICIENT_SCOPE",
    message: "this token does not grant admin",
  });
  const admin = await metrics(bearer(await hs256({ scope: "admin" })));
  expect(admin.status).toBe(200);
  expect(await admin.text()).toContain("# TYPE rill_http_requests_total counter");

  expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
});
