/** One line for an error the console shows: what went wrong, in the server's words when it gave some. */
export function describe(error: unknown): string {
  const shaped = error as { status?: number; code?: string; json?: { error?: { message?: string } }; message?: string };
  const detail = shaped?.json?.error?.message;
  if (shaped?.status === 404) return "not found (deleted or expired)";
  if (shaped?.status === 401) return `no access: the server needs a valid token${detail ? ` (${detail})` : ""}`;
  if (shaped?.status === 403) return `insufficient scope: this token may not do that here${detail ? ` (${detail})` : ""}`;
  if (shaped?.code === "STREAM_CLOSED") return "the stream is closed";
  if (detail) return detail;
  // fetch rejects with a TypeError ("Failed to fetch") when nothing answers.
  if (error instanceof TypeError) return "cannot reach the server (it may be down or restarting); retrying";
  return shaped?.message ?? String(error);
}
