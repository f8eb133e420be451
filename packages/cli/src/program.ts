import { Command } from "commander";
import { appendCommand } from "./commands/append.js";
import { closeCommand } from "./commands/close.js";
import { createCommand } from "./commands/create.js";
import { deleteCommand } from "./commands/delete.js";
import { headCommand } from "./commands/head.js";
import { lsCommand } from "./commands/ls.js";
import { readCommand } from "./commands/read.js";
import { tailCommand } from "./commands/tail.js";
import { errorLine, EXIT, EXIT_CODES_HELP, setJsonErrors } from "./errors.js";
import { serveCommand } from "./serve.js";
import { tokenCommand } from "./commands/token.js";

export function buildProgram(): Command {
  const program = new Command("rill")
    .description("Rill: durable, URL-addressed, append-only streams over HTTP (the Durable Streams protocol)")
    .version("0.1.0")
    .addHelpText("after", EXIT_CODES_HELP);
  oneLineErrors(program, "rill --help");
  // Errors of a verb run with --json are JSON as well (errors.ts).
  program.hook("preAction", (_program, action) => setJsonErrors(action.opts().json === true));
  program.addCommand(oneLineErrors(serveCommand().addHelpText("after", SERVE_EXIT_CODES_HELP), "rill serve --help"));
  program.addCommand(oneLineErrors(tokenCommand(), "rill token --help"));
  const verbs: Array<[Command, string]> = [
    [createCommand(), "Create a stream (content type, TTL or expiry, initial data)"],
    [appendCommand(), "Append from an argument, files or stdin (resumable, exactly once)"],
    [readCommand(), "Print a stream from an offset up to its current end"],
    [tailCommand(), "Follow a stream live, like tail -f"],
    [headCommand(), "Show a stream's metadata"],
    [closeCommand(), "Close a stream, optionally with a final message"],
    [deleteCommand(), "Delete a stream"],
    [lsCommand(), "List the streams on a Rill server"],
  ];
  for (const [command, summary] of verbs) {
    program.addCommand(oneLineErrors(command.summary(summary).addHelpText("after", EXIT_CODES_HELP), `rill ${command.name()} --help`));
  }
  return program;
}

const SERVE_EXIT_CODES_HELP = `
Exit codes:
  0  stopped cleanly (SIGINT or SIGTERM)
  1  usage error (bad options)
  6  cannot start: the port is in use, the data directory is not usable,
     or PostgreSQL cannot be used (the message names the flag or path)`;

/**
 * Usage errors as one line, like every other error: `rill: unknown option '--x' (see rill head --help)`.
 * Commander reports them before any action runs, so --json is looked for on the command line itself.
 */
function oneLineErrors(command: Command, help: string): Command {
  return command.configureOutput({
    outputError: (text, write) => {
      const message = text.trim().replace(/^error: /, "");
      if (process.argv.includes("--json")) setJsonErrors(true);
      write(errorLine(`${message} (see ${help})`, EXIT.usage));
    },
  });
}
