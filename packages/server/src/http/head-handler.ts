import type { ServerResponse } from "node:http";
import type { HttpContext } from "./context.js";
import { send } from "./respond.js";
import { headHeaders } from "./stream-headers.js";

/** HEAD: the stream's metadata in headers and no body (reads no data, so it is neither a catch-up nor a write). */
export async function handleHead(ctx: HttpContext, res: ServerResponse, path: string) {
  const stream = await ctx.engine.live(path);
  send(res, 200, headHeaders(stream, ctx.engine.retentionDefaults));
}
