// Plumbing shared by the load-generator processes: arguments, IPC replies, and
// exiting when the orchestrator goes away.
export const args = JSON.parse(process.argv[2] ?? "{}");

// Against a bench server with a throwaway self-signed certificate (undici honours this per connection).
if (args.insecure) process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

export function send(type, data = {}) {
  process.send?.({ type, ...data });
}

/** Resolves when the orchestrator sends { cmd } (e.g. "go", "report"). */
export function command(cmd) {
  return new Promise((resolve) => {
    const onMessage = (message) => {
      if (message?.cmd === cmd) {
        process.off("message", onMessage);
        resolve(message);
      }
    };
    process.on("message", onMessage);
  });
}

/** Runs `main`, sends its value as the result, reports failures to the orchestrator. */
export function run(main) {
  process.on("disconnect", () => process.exit(0));
  process.on("SIGTERM", () => process.exit(0));
  main().then(
    (result) => {
      if (result !== undefined) send("result", result);
    },
    (error) => {
      send("error", { message: error?.stack ?? String(error) });
      setTimeout(() => process.exit(1), 100);
    },
  );
}
