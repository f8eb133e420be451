import { runConformanceTests } from "@durable-streams/server-conformance-tests";
import { Agent, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSelfSignedCertificate, startServer, type RunningServer } from "@rill/server";

// The official executable spec over HTTPS against one server: first with an
// HTTP/2-capable fetch (ALPN picks h2), then with HTTP/1.1 only. The suite
// uses the global fetch, so each half installs its dispatcher globally.
const tls = createSelfSignedCertificate();
const config = { baseUrl: "", longPollTimeoutMs: 1_500, subscriptions: true };
let server: RunningServer;
let previous: Dispatcher;

beforeAll(async () => {
  previous = getGlobalDispatcher();
  server = await startServer({
    port: 0,
    memory: true,
    tls,
    longPollTimeoutMs: config.longPollTimeoutMs,
    // Tells the test which protocol a request arrived over.
    extraRoutes: [
      async (req, res, url) => {
        if (url.pathname !== "/protocol") return false;
        res.writeHead(200, { "content-type": "text/plain" });
        res.end(req.httpVersion);
        return true;
      },
    ],
  });
  config.baseUrl = server.url;
});
afterAll(async () => {
  setGlobalDispatcher(previous);
  await server?.close();
});

function half(name: string, agent: () => Agent, expectedVersion: string) {
  describe(name, () => {
    let dispatcher: Agent;
    beforeAll(() => {
      dispatcher = agent();
      setGlobalDispatcher(dispatcher);
    });
    afterAll(async () => {
      await dispatcher.close();
    });
    it(`requests arrive over HTTP ${expectedVersion}`, async () => {
      expect(server.url).toMatch(/^https:\/\//);
      const response = await fetch(`${server.url}/protocol`);
      expect(await response.text()).toBe(expectedVersion);
    });
    runConformanceTests(config);
  });
}

half("HTTP/2 over TLS", () => new Agent({ allowH2: true, connect: { ca: tls.cert } }), "2.0");
half("HTTP/1.1 over TLS", () => new Agent({ connect: { ca: tls.cert } }), "1.1");
