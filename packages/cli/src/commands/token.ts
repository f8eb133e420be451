import { createStaticToken, ScopeError } from "@rill/server";
import { Command } from "commander";
import { writeOut } from "../common.js";
import { CliError, EXIT } from "../errors.js";
import { runVerb } from "../run.js";

/** `rill token create --scope "…"`: a new static API token for `rill serve --tokens <file>`. */
export function tokenCommand(): Command {
  const token = new Command("token").description("Static API tokens for `rill serve --tokens <file>`");
  token
    .command("create")
    .description("Print a new random token (shown only this once) and the line to add to the tokens file")
    .requiredOption("--scope <scopes>", 'space-separated scopes, e.g. "read:chat/** write:chat/lobby" or "admin"')
    .action((flags: { scope: string }) => runVerb(() => create(flags.scope)));
  return token;
}

async function create(scope: string): Promise<void> {
  let created: { token: string; line: string };
  try {
    created = createStaticToken(scope);
  } catch (error) {
    if (error instanceof ScopeError) throw new CliError(EXIT.usage, error.message);
    throw error;
  }
  // The token goes to stdout alone on its first line, so scripts can take it with `head -1`.
  await writeOut(`${created.token}\n`);
  process.stderr.write(
    "rill: keep this token now: the server stores only its hash, so it cannot be shown again.\n" +
      "rill: add this line to the tokens file (rill serve --tokens <file>):\n",
  );
  await writeOut(`${created.line}\n`);
}
