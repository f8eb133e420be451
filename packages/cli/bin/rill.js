#!/usr/bin/env node
// The `rill` command as npm links it. This file is committed, not built: npm
// links bins when it installs, before `npm run build` has created dist/, and
// a bin whose target is missing at that moment is silently not linked.
import { existsSync } from "node:fs";

const entry = new URL("../dist/bin.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("rill: the CLI is not built yet: run `npm run build` (or `npm start`) in the Rill checkout first\n");
  process.exit(6);
}
await import(entry.href);
