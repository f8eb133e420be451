import { report } from "./errors.js";

/**
 * Runs a client verb: failures become one line on stderr and an exit code
 * (see errors.ts). The process exits when the verb is done, so no idle
 * connection or timer can keep a finished command alive.
 */
export async function runVerb(action: () => Promise<void>): Promise<void> {
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    // A reader that went away (`rill read … | head`) is not a failure.
    if (error.code === "EPIPE") process.exit(0);
  });
  let code = 0;
  try {
    await action();
  } catch (error) {
    code = report(error);
  }
  process.exit(code);
}
