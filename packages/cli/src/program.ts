import { Command } from "commander";
import { serveCommand } from "./serve.js";

export function buildProgram(): Command {
  const program = new Command("rill")
    .description("Rill: durable, URL-addressed, append-only streams over HTTP (the Durable Streams protocol)")
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)");
  program.addCommand(serveCommand());
  return program;
}
