import { Command } from "commander";
import { appendCommand } from "./commands/append.js";
import { closeCommand } from "./commands/close.js";
import { createCommand } from "./commands/create.js";
import { deleteCommand } from "./commands/delete.js";
import { headCommand } from "./commands/head.js";
import { lsCommand } from "./commands/ls.js";
import { readCommand } from "./commands/read.js";
import { tailCommand } from "./commands/tail.js";
import { EXIT_CODES_HELP } from "./errors.js";
import { serveCommand } from "./serve.js";

export function buildProgram(): Command {
  const program = new Command("rill")
    .description("Rill: durable, URL-addressed, append-only streams over HTTP (the Durable Streams protocol)")
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", EXIT_CODES_HELP);
  program.addCommand(serveCommand());
  for (const command of [
    createCommand(),
    appendCommand(),
    readCommand(),
    tailCommand(),
    headCommand(),
    closeCommand(),
    deleteCommand(),
    lsCommand(),
  ]) {
    program.addCommand(command.showHelpAfterError("(run with --help for usage)").addHelpText("after", EXIT_CODES_HELP));
  }
  return program;
}
