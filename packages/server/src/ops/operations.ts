import type { ExtraRoute } from "../http/context.js";
import type { Store } from "../storage/store.js";
import { healthRoute } from "./health.js";
import { homePageRoute } from "./home-page.js";
import { metricsRoute, type RequestGuard } from "./metrics-route.js";
import { listenOps, type OpsServer } from "./ops-server.js";

export interface OperationsOptions {
  store: Store;
  basePath: string;
  consolePath: string | null;
  /** Metrics are recorded and served at all. */
  metrics: boolean;
  /** Serve /metrics on this private port rather than the main one. */
  metricsPort: number | undefined;
  readyTimeoutMs: number;
  /** Checked before /metrics answers (with access control on: the admin scope). */
  guard: RequestGuard | undefined;
}

/**
 * What a server offers operators, outside the base path: health and
 * metrics (tried before the caller's extra routes), the page at `/` (tried
 * last), and the optional private metrics port. One object, so the server
 * wires it in a few lines.
 */
export function operations(options: OperationsOptions) {
  let shuttingDown = false;
  const health = healthRoute({ store: options.store, closing: () => shuttingDown, readyTimeoutMs: options.readyTimeoutMs });
  const exposition = metricsRoute({ guard: options.guard });
  const privatePort = options.metrics && options.metricsPort !== undefined;
  const onMainPort = options.metrics && !privatePort;
  return {
    first: [health, ...(onMainPort ? [exposition] : [])] as ExtraRoute[],
    last: [homePageRoute({ basePath: options.basePath, consolePath: options.consolePath, metrics: onMainPort })] as ExtraRoute[],
    /** From now on /readyz answers 503. */
    shuttingDown(): void {
      shuttingDown = true;
    },
    /** Opens the private metrics port, when one was asked for. */
    listen(host: string): Promise<OpsServer | null> {
      return privatePort ? listenOps([health, exposition], options.metricsPort!, host) : Promise.resolve(null);
    },
  };
}
